//! `#[derive(Trace)]` for the [`ftgc`] garbage collector.
//!
//! This crate is re-exported by `ftgc` (use `ftgc::Trace` for both the trait and the derive);
//! depending on it directly is rarely useful.
//!
//! The derive implements `ftgc::Trace` for a struct or an enum by asking every field to trace
//! itself. See [`Trace`](macro@Trace) for the generated code and the attributes it accepts:
//!
//! * `#[trace(skip)]` on a field: do not trace it (its type need not implement `Trace`);
//! * `#[trace(not_leaf)]` on the type: set `NEEDS_TRACE` to `true` without looking at the
//!   fields (breaks the compile-time cycle of mutually recursive types).
//!
//! Generated code names the trait by its absolute path, `::ftgc::Trace`, so the `ftgc` crate
//! must be a dependency under that name.
//!
//! [`ftgc`]: https://example.invalid/ftgc

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::{
    Attribute, Data, DeriveInput, Fields, Generics, Ident, Member, Token, Type, parse_quote,
};

/// Derives `ftgc::Trace` for a struct or an enum.
///
/// # What it generates
///
/// For
///
/// ```ignore
/// #[derive(Trace)]
/// enum Expr<T> {
///     Lit(Gc<T>),
///     Add(Box<Expr<T>>, Box<Expr<T>>),
///     Name(#[trace(skip)] String),
/// }
/// ```
///
/// the derive writes (modulo formatting)
///
/// ```ignore
/// #[automatically_derived]
/// unsafe impl<T: ::ftgc::Trace> ::ftgc::Trace for Expr<T> {
///     const NEEDS_TRACE: bool = <Gc<T> as ::ftgc::Trace>::NEEDS_TRACE || true;
///     const HOLDS_HANDLES: bool = <Gc<T> as ::ftgc::Trace>::HOLDS_HANDLES || true;
///
///     #[inline]
///     fn trace<__V: ::ftgc::Tracer>(&self, __tracer: &mut __V) {
///         match self {
///             Self::Lit(__f0) => {
///                 ::ftgc::Trace::trace(__f0, __tracer);
///             }
///             Self::Add(__f0, __f1) => {
///                 ::ftgc::Trace::trace(__f0, __tracer);
///                 ::ftgc::Trace::trace(__f1, __tracer);
///             }
///             Self::Name(..) => {}
///         }
///     }
/// }
/// ```
///
/// * `trace` destructures `self` by reference and calls `::ftgc::Trace::trace` on every field
///   that is not marked `#[trace(skip)]`, in declaration order. Unit structs and fieldless
///   variants trace nothing; an empty enum matches on `*self` with no arms.
/// * `NEEDS_TRACE` is the `||` of the field types' own `NEEDS_TRACE` (skipped fields do not
///   count; `false` when no field is traced). A field whose type mentions the type being
///   derived or `Self` (`Box<Self>`, `Vec<Expr<T>>`, `Option<Gc<Node>>`, ...) contributes a
///   literal `true` instead: asking `<Vec<Expr<T>> as Trace>::NEEDS_TRACE` while defining
///   `Expr`'s own constant would be a compile-time cycle (error E0391). The check is purely
///   syntactic, and `true` is always a correct answer (it only means the values are scanned).
///   `HOLDS_HANDLES` is built the same way from the fields' `HOLDS_HANDLES`.
///
/// # Bounds on type parameters
///
/// Every *type* parameter of the type gets a `::ftgc::Trace` bound on the impl (lifetimes and
/// const parameters are kept as they are, as is the type's own `where` clause). The bounds are
/// per parameter rather than per field type on purpose: a per-field bound such as
/// `Option<Gc<Node>>: Trace` on `Node`'s own impl makes rustc recurse without end. A
/// parameter that only appears in skipped fields or in `PhantomData` still gets the bound; if
/// that is too strict, implement `Trace` by hand.
///
/// # Attributes
///
/// * `#[trace(skip)]` on a field (of a struct or of an enum variant): the field is neither
///   traced nor counted in `NEEDS_TRACE`, and its type need not implement `Trace`. Use it for
///   fields that cannot hold handles but whose types have no `Trace` impl. Skipping a field
///   that *does* hold `Gc` handles is still safe, but the collector then sees those handles as
///   references from outside the heap: their targets (and everything they reach) stay alive
///   as long as the field does, and a cycle that runs through the field is never collected.
/// * `#[trace(not_leaf)]` on the struct or enum: `NEEDS_TRACE` is `true`, whatever the fields.
///   The automatic `true` above only catches a type that names *itself*; mutually recursive
///   types (`struct A { b: Vec<B> }`, `struct B { a: Option<Box<A>> }`) still form a cycle of
///   constants, which `#[trace(not_leaf)]` on either of them breaks.
///
/// Any other argument, or one of these in the wrong place, is a compile error pointing at it.
///
/// # Unsupported types
///
/// Unions (the derive cannot know which field is live) and `#[repr(packed)]` types (their
/// fields cannot be borrowed in place) are rejected with a compile error; implement `Trace`
/// by hand for them.
///
/// # Why the generated impl is sound
///
/// `Trace` is an `unsafe` trait because reporting a handle the value does not own, or one
/// handle twice, misleads the collector. The derived `trace` reports nothing itself: it visits
/// each traced field exactly once and lets the field's own `Trace` impl report the handles
/// that field owns. Distinct fields own distinct handles, so the union of their reports is
/// exactly the value's handles (minus those in skipped fields, and under-reporting is safe).
/// The method only reads `self`, so it reports the same handles every time it is called.
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The whole derive: the `unsafe impl ::ftgc::Trace` for `input`, or the errors to report.
fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let mut errors = Errors::default();

    if let Data::Union(data) = &input.data {
        return Err(syn::Error::new_spanned(
            data.union_token,
            "Trace cannot be derived for unions: the derive cannot know which field is live; \
             implement `Trace` by hand",
        ));
    }
    if let Some(repr) = packed_repr(&input.attrs) {
        return Err(syn::Error::new_spanned(
            repr,
            "Trace cannot be derived for `#[repr(packed)]` types: their fields cannot be \
             borrowed in place; implement `Trace` by hand",
        ));
    }

    let container = errors.take(parse_trace_attrs(&input.attrs, Place::Container));

    // Every struct, or every enum variant, as the pattern that names it and its fields.
    let shapes: Vec<Shape> = match &input.data {
        Data::Struct(data) => {
            vec![errors.take(Shape::new(quote!(Self), &data.fields))]
        }
        Data::Enum(data) => data
            .variants
            .iter()
            .map(|variant| {
                errors.take(parse_trace_attrs(&variant.attrs, Place::Variant));
                let ident = &variant.ident;
                errors.take(Shape::new(quote!(Self::#ident), &variant.fields))
            })
            .collect(),
        Data::Union(_) => unreachable!("rejected above"),
    };
    errors.finish()?;

    let ident = &input.ident;
    let tracer_ty = fresh_type_param(&input.generics);
    let tracer = Ident::new("__tracer", Span::mixed_site());

    let body = match &input.data {
        Data::Struct(_) => {
            let shape = &shapes[0];
            if shape.traced().next().is_none() {
                TokenStream2::new()
            } else {
                let pattern = shape.pattern();
                let calls = shape.trace_calls(&tracer);
                quote! {
                    let #pattern = self;
                    #(#calls)*
                }
            }
        }
        _ if shapes.is_empty() => quote!(match *self {}),
        _ if shapes.iter().all(|s| s.traced().next().is_none()) => TokenStream2::new(),
        _ => {
            let arms = shapes.iter().map(|shape| {
                let pattern = shape.pattern();
                let calls = shape.trace_calls(&tracer);
                quote!(#pattern => { #(#calls)* })
            });
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
    };

    let needs_trace = field_constant(&shapes, ident, container.not_leaf, "NEEDS_TRACE");
    let holds_handles = field_constant(&shapes, ident, container.not_leaf, "HOLDS_HANDLES");

    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(parse_quote!(::ftgc::Trace));
    }
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let (_, ty_generics, _) = input.generics.split_for_impl();

    // SAFETY (of the generated impl): it reports exactly what the traced fields report, each
    // field once, and a value owns its handles only through its fields; skipped fields
    // under-report, which is safe. It neither mutates, blocks nor allocates handles, so it meets
    // the numbered contract of `ftgc::Trace` whenever the field impls do.
    Ok(quote! {
        #[automatically_derived]
        unsafe impl #impl_generics ::ftgc::Trace for #ident #ty_generics #where_clause {
            const NEEDS_TRACE: bool = #needs_trace;
            const HOLDS_HANDLES: bool = #holds_handles;

            #[inline]
            fn trace<#tracer_ty: ::ftgc::Tracer>(&self, #tracer: &mut #tracer_ty) {
                #body
            }
        }
    })
}

/// A struct, or one enum variant: the path to match it by and its fields.
struct Shape {
    /// `Self` or `Self::Variant`.
    path: TokenStream2,
    /// Whether the fields are named, positional or absent.
    style: Style,
    fields: Vec<FieldInfo>,
}

/// Only a placeholder, for an expansion that has already failed (see [`Errors::take`]).
impl Default for Shape {
    fn default() -> Self {
        Shape {
            path: TokenStream2::new(),
            style: Style::Unit,
            fields: Vec::new(),
        }
    }
}

/// How a [`Shape`]'s fields are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Named,
    Unnamed,
    Unit,
}

/// One field of a [`Shape`].
struct FieldInfo {
    /// The field's name or position.
    member: Member,
    /// The local the pattern binds it to (`__f0`, `__f1`, ...), unless the field is skipped.
    binding: Option<Ident>,
    ty: Type,
}

impl Shape {
    fn new(path: TokenStream2, fields: &Fields) -> syn::Result<Self> {
        let style = match fields {
            Fields::Named(_) => Style::Named,
            Fields::Unnamed(_) => Style::Unnamed,
            Fields::Unit => Style::Unit,
        };
        let mut errors = Errors::default();
        let fields = fields
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let attrs = errors.take(parse_trace_attrs(&field.attrs, Place::Field));
                let member = match &field.ident {
                    Some(ident) => Member::Named(ident.clone()),
                    None => Member::Unnamed(index.into()),
                };
                // Mixed-site hygiene: the bindings cannot capture or shadow the user's names.
                let binding =
                    (!attrs.skip).then(|| Ident::new(&format!("__f{index}"), Span::mixed_site()));
                FieldInfo {
                    member,
                    binding,
                    ty: field.ty.clone(),
                }
            })
            .collect();
        errors.finish()?;
        Ok(Shape {
            path,
            style,
            fields,
        })
    }

    /// The fields that are traced (not `#[trace(skip)]`).
    fn traced(&self) -> impl Iterator<Item = &FieldInfo> {
        self.fields.iter().filter(|f| f.binding.is_some())
    }

    /// A pattern that binds every traced field by reference (when matched against `&Self`)
    /// and ignores the others: `Self::V { a: __f0, .. }`, `Self::V(__f0, _, __f2, ..)`.
    fn pattern(&self) -> TokenStream2 {
        let path = &self.path;
        let skips_any = self.fields.iter().any(|f| f.binding.is_none());
        match self.style {
            Style::Unit => path.clone(),
            Style::Named => {
                let mut items: Vec<TokenStream2> = self
                    .traced()
                    .map(|f| {
                        let (member, binding) = (&f.member, &f.binding);
                        quote!(#member: #binding)
                    })
                    .collect();
                if skips_any {
                    items.push(quote!(..));
                }
                quote!(#path { #(#items),* })
            }
            Style::Unnamed => {
                // Skipped fields are `_`, and a run of them at the end is one `..` (never
                // `_, ..`, which clippy flags as `unneeded_wildcard_pattern`).
                let kept = self
                    .fields
                    .iter()
                    .rposition(|f| f.binding.is_some())
                    .map_or(0, |last| last + 1);
                let mut items: Vec<TokenStream2> = self.fields[..kept]
                    .iter()
                    .map(|f| match &f.binding {
                        Some(binding) => binding.to_token_stream(),
                        None => quote!(_),
                    })
                    .collect();
                if kept < self.fields.len() {
                    items.push(quote!(..));
                }
                quote!(#path(#(#items),*))
            }
        }
    }

    /// `::ftgc::Trace::trace(__fN, __tracer);` for each traced field.
    fn trace_calls<'a>(&'a self, tracer: &'a Ident) -> impl Iterator<Item = TokenStream2> + 'a {
        self.traced().map(move |f| {
            let binding = &f.binding;
            quote!(::ftgc::Trace::trace(#binding, #tracer);)
        })
    }
}

/// Where a `#[trace(...)]` attribute was found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Container,
    Variant,
    Field,
}

impl Place {
    fn describe(self) -> &'static str {
        match self {
            Place::Container => "the type itself",
            Place::Variant => "an enum variant",
            Place::Field => "a field",
        }
    }
}

/// The `#[trace(...)]` arguments given at one place.
#[derive(Default)]
struct TraceAttrs {
    skip: bool,
    not_leaf: bool,
}

/// Parses every `#[trace(...)]` attribute in `attrs`, checking that each argument is known,
/// takes no value, is given once, and belongs at `place`.
fn parse_trace_attrs(attrs: &[Attribute], place: Place) -> syn::Result<TraceAttrs> {
    let mut out = TraceAttrs::default();
    let mut errors = Errors::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("trace")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let (name, slot, home) = if meta.path.is_ident("skip") {
                ("skip", &mut out.skip, Place::Field)
            } else if meta.path.is_ident("not_leaf") {
                ("not_leaf", &mut out.not_leaf, Place::Container)
            } else {
                let path = meta.path.to_token_stream().to_string().replace(' ', "");
                return Err(meta.error(format!(
                    "unknown `trace` attribute argument `{path}`; expected `skip` (on a field) \
                     or `not_leaf` (on the struct or enum)"
                )));
            };
            if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
                return Err(meta.error(format!("`#[trace({name})]` takes no value")));
            }
            if place != home {
                let hint = match home {
                    Place::Field => "; put it on each field to skip",
                    _ => "",
                };
                return Err(meta.error(format!(
                    "`#[trace({name})]` belongs on {}, not on {}{hint}",
                    home.describe(),
                    place.describe(),
                )));
            }
            if *slot {
                return Err(meta.error(format!("duplicate `#[trace({name})]`")));
            }
            *slot = true;
            Ok(())
        });
        errors.take(parsed);
    }
    errors.finish()?;
    Ok(out)
}

/// The `#[repr(...)]` attribute that makes the type packed, if any.
fn packed_repr(attrs: &[Attribute]) -> Option<&Attribute> {
    attrs.iter().find(|attr| {
        attr.path().is_ident("repr")
            && match &attr.meta {
                syn::Meta::List(list) => list
                    .tokens
                    .clone()
                    .into_iter()
                    .any(|token| matches!(token, TokenTree::Ident(ident) if ident == "packed")),
                _ => false,
            }
    })
}

/// The `||` of the traced fields' constant `name` (`NEEDS_TRACE` or `HOLDS_HANDLES`): `false`
/// when no field is traced, `true` for `#[trace(not_leaf)]`, and a literal `true` for a field
/// whose type mentions the type itself (see the derive's docs).
fn field_constant(
    shapes: &[Shape],
    ident: &syn::Ident,
    not_leaf: bool,
    name: &str,
) -> TokenStream2 {
    if not_leaf {
        return quote!(true);
    }
    let constant = syn::Ident::new(name, proc_macro2::Span::call_site());
    let mut terms: Vec<TokenStream2> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for field in shapes.iter().flat_map(Shape::traced) {
        let term = if mentions_self(field.ty.to_token_stream(), ident) {
            quote!(true)
        } else {
            let ty = &field.ty;
            quote!(<#ty as ::ftgc::Trace>::#constant)
        };
        // The same type twice would be `a || a`, which clippy rejects (`eq_op`).
        let key = term.to_string();
        if !seen.contains(&key) {
            seen.push(key);
            terms.push(term);
        }
    }
    if terms.is_empty() {
        quote!(false)
    } else {
        quote!(#(#terms)||*)
    }
}

/// Whether `tokens` mention `Self` or `ident` anywhere (looking inside every group).
fn mentions_self(tokens: TokenStream2, ident: &Ident) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(found) => found == *ident || found == "Self",
        TokenTree::Group(group) => mentions_self(group.stream(), ident),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// A name for the tracer's type parameter that none of the type's own parameters use.
fn fresh_type_param(generics: &Generics) -> Ident {
    let taken = |name: &Ident| {
        generics.params.iter().any(|param| match param {
            syn::GenericParam::Type(param) => param.ident == *name,
            syn::GenericParam::Const(param) => param.ident == *name,
            syn::GenericParam::Lifetime(_) => false,
        })
    };
    let mut name = format_ident!("__V");
    let mut n = 0u32;
    while taken(&name) {
        n += 1;
        name = format_ident!("__V{n}");
    }
    name
}

/// Collects errors so that one expansion can report every problem at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// The value of `result`, recording its error (and returning the default value) if any.
    fn take<T: Default>(&mut self, result: syn::Result<T>) -> T {
        result.unwrap_or_else(|error| {
            match &mut self.0 {
                Some(all) => all.combine(error),
                None => self.0 = Some(error),
            }
            T::default()
        })
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests;
