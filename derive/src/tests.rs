//! Checks on the text of the expansion. That the expansion also compiles (warning- and
//! clippy-free) against a `Trace` trait of the same shape is checked by `tests/derive.rs`.

use super::expand;
use syn::{DeriveInput, parse_quote};

/// The expansion of `input`, without whitespace (so that `:: ftgc :: Trace` reads `::ftgc::Trace`).
fn expanded(input: DeriveInput) -> String {
    let tokens = expand(input).unwrap_or_else(|e| panic!("unexpected error: {e}"));
    squash(&tokens.to_string())
}

/// The error messages of the expansion of `input`, which must fail.
fn error(input: DeriveInput) -> String {
    match expand(input) {
        Ok(tokens) => panic!("expected an error, got {tokens}"),
        Err(e) => e
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[track_caller]
fn assert_has(haystack: &str, needle: &str) {
    let needle = squash(needle);
    assert!(
        haystack.contains(&needle),
        "expected `{needle}` in\n{haystack}"
    );
}

#[track_caller]
fn assert_lacks(haystack: &str, needle: &str) {
    let needle = squash(needle);
    assert!(
        !haystack.contains(&needle),
        "did not expect `{needle}` in\n{haystack}"
    );
}

#[test]
fn named_struct() {
    let out = expanded(parse_quote! {
        struct Pair { a: Gc<u32>, b: Vec<Gc<String>> }
    });
    assert_has(
        &out,
        "#[automatically_derived] unsafe impl ::ftgc::Trace for Pair",
    );
    assert_has(
        &out,
        "const NEEDS_TRACE: bool = <Gc<u32> as ::ftgc::Trace>::NEEDS_TRACE \
         || <Vec<Gc<String>> as ::ftgc::Trace>::NEEDS_TRACE;",
    );
    assert_has(
        &out,
        "#[inline] fn trace<__V: ::ftgc::Tracer>(&self, __tracer: &mut __V)",
    );
    assert_has(&out, "let Self { a: __f0, b: __f1 } = self;");
    assert_has(&out, "::ftgc::Trace::trace(__f0, __tracer);");
    assert_has(&out, "::ftgc::Trace::trace(__f1, __tracer);");
}

#[test]
fn tuple_struct_with_skips() {
    let out = expanded(parse_quote! {
        struct T(#[trace(skip)] Opaque, Gc<u8>, #[trace(skip)] Other, #[trace(skip)] More);
    });
    assert_has(&out, "let Self(_, __f1, ..) = self;");
    assert_has(
        &out,
        "NEEDS_TRACE: bool = <Gc<u8> as ::ftgc::Trace>::NEEDS_TRACE;",
    );
    assert_lacks(&out, "Opaque");
    assert_lacks(&out, "Other");
    assert_lacks(&out, "More");
    assert_lacks(&out, "__f0");
}

#[test]
fn skipped_named_field_is_absent() {
    let out = expanded(parse_quote! {
        struct S { keep: Gc<u8>, #[trace(skip)] secret: NotTrace }
    });
    assert_has(&out, "let Self { keep: __f0, .. } = self;");
    assert_lacks(&out, "secret");
    assert_lacks(&out, "NotTrace");
    assert_lacks(&out, "__f1");
}

#[test]
fn unit_and_empty_structs_trace_nothing() {
    for input in [
        parse_quote!(
            struct U;
        ),
        parse_quote!(
            struct E {}
        ),
        parse_quote!(
            struct Z();
        ),
        parse_quote!(
            struct S(#[trace(skip)] String);
        ),
    ] {
        let out = expanded(input);
        assert_has(&out, "const NEEDS_TRACE: bool = false;");
        assert_has(&out, "(&self, __tracer: &mut __V) {}");
        assert_lacks(&out, "let");
    }
}

#[test]
fn empty_enum() {
    let out = expanded(parse_quote! { enum Never {} });
    assert_has(&out, "const NEEDS_TRACE: bool = false;");
    assert_has(&out, "{ match *self {} }");
}

#[test]
fn fieldless_enum_traces_nothing() {
    let out = expanded(parse_quote! { enum Color { Red, Green = 3, Blue } });
    assert_has(&out, "const NEEDS_TRACE: bool = false;");
    assert_has(&out, "(&self, __tracer: &mut __V) {}");
    assert_lacks(&out, "match");
}

#[test]
fn recursive_enum_sample() {
    let out = expanded(parse_quote! {
        enum Expr<T> {
            Lit(Gc<T>),
            Add(Box<Expr<T>>, Box<Expr<T>>),
            Name(#[trace(skip)] String),
        }
    });
    assert_has(
        &out,
        "unsafe impl<T: ::ftgc::Trace> ::ftgc::Trace for Expr<T> {",
    );
    // The recursive fields contribute `true` (once), never `<Box<Expr<T>> as Trace>`.
    assert_has(
        &out,
        "const NEEDS_TRACE: bool = <Gc<T> as ::ftgc::Trace>::NEEDS_TRACE || true;",
    );
    assert_lacks(&out, "<Box<Expr<T>> as");
    assert_has(
        &out,
        "match self { \
            Self::Lit(__f0) => { ::ftgc::Trace::trace(__f0, __tracer); } \
            Self::Add(__f0, __f1) => { \
                ::ftgc::Trace::trace(__f0, __tracer); \
                ::ftgc::Trace::trace(__f1, __tracer); \
            } \
            Self::Name(..) => {} \
        }",
    );
    assert_lacks(&out, "String");
}

#[test]
fn self_mentions_are_found_anywhere() {
    let out = expanded(parse_quote! {
        struct Node {
            a: Option<Gc<Node>>,
            b: Box<Self>,
            c: [Option<(u8, crate::Node)>; 2],
            d: Gc<u8>,
            e: Vec<NodeLike>,
        }
    });
    assert_has(
        &out,
        "const NEEDS_TRACE: bool = true \
         || <Gc<u8> as ::ftgc::Trace>::NEEDS_TRACE \
         || <Vec<NodeLike> as ::ftgc::Trace>::NEEDS_TRACE;",
    );
}

#[test]
fn enum_variant_kinds() {
    let out = expanded(parse_quote! {
        enum E {
            Unit,
            Named { x: Gc<u8>, #[trace(skip)] y: u32, z: Gc<u16> },
            AllSkipped { #[trace(skip)] y: u32 },
            Tuple(#[trace(skip)] u32, Gc<u8>),
        }
    });
    assert_has(&out, "Self::Unit => {}");
    assert_has(
        &out,
        "Self::Named { x: __f0, z: __f2, .. } => { \
            ::ftgc::Trace::trace(__f0, __tracer); \
            ::ftgc::Trace::trace(__f2, __tracer); }",
    );
    assert_has(&out, "Self::AllSkipped { .. } => {}");
    assert_has(
        &out,
        "Self::Tuple(_, __f1) => { ::ftgc::Trace::trace(__f1, __tracer); }",
    );
    // `Gc<u8>` appears twice but is counted once.
    assert_has(
        &out,
        "const NEEDS_TRACE: bool = <Gc<u8> as ::ftgc::Trace>::NEEDS_TRACE \
         || <Gc<u16> as ::ftgc::Trace>::NEEDS_TRACE;",
    );
    assert_lacks(&out, "u32");
}

#[test]
fn not_leaf() {
    let out = expanded(parse_quote! {
        #[trace(not_leaf)]
        struct A { b: Vec<B>, n: u32 }
    });
    assert_has(&out, "const NEEDS_TRACE: bool = true;");
    assert_lacks(&out, "as ::ftgc::Trace>::NEEDS_TRACE");
    assert_has(&out, "let Self { b: __f0, n: __f1 } = self;");
}

#[test]
fn generics_lifetimes_and_where_clauses_are_kept() {
    let out = expanded(parse_quote! {
        struct G<'a, T: Clone + ?Sized, U = u8, const N: usize = 3>
        where
            U: Copy,
        {
            t: &'a T,
            u: [U; N],
        }
    });
    assert_has(
        &out,
        "unsafe impl<'a, T: Clone + ?Sized + ::ftgc::Trace, U: ::ftgc::Trace, const N: usize> \
         ::ftgc::Trace for G<'a, T, U, N> where U: Copy, {",
    );
}

#[test]
fn tracer_type_parameter_avoids_user_names() {
    let out = expanded(parse_quote! {
        struct W<__V, __V1> { a: __V, b: __V1 }
    });
    assert_has(
        &out,
        "fn trace<__V2: ::ftgc::Tracer>(&self, __tracer: &mut __V2)",
    );
}

#[test]
fn union_is_rejected() {
    let msg = error(parse_quote! { union U { a: u32, b: f32 } });
    assert!(msg.contains("Trace cannot be derived for unions"), "{msg}");
}

#[test]
fn union_error_is_a_compile_error() {
    let input: DeriveInput = parse_quote! { union U { a: u32 } };
    let tokens = expand(input).unwrap_err().into_compile_error().to_string();
    assert!(tokens.contains("compile_error"), "{tokens}");
    assert!(
        tokens.contains("Trace cannot be derived for unions"),
        "{tokens}"
    );
}

#[test]
fn packed_is_rejected() {
    let msg = error(parse_quote! {
        #[repr(C, packed(2))]
        struct P { a: Gc<u8> }
    });
    assert!(msg.contains("#[repr(packed)]"), "{msg}");
    // `repr(C)` or `repr(align)` alone are fine.
    expanded(parse_quote! {
        #[repr(C, align(8))]
        struct Q { a: Gc<u8> }
    });
}

#[test]
fn unknown_argument() {
    let msg = error(parse_quote! {
        struct S { #[trace(skipp)] a: u8 }
    });
    assert!(
        msg.contains("unknown `trace` attribute argument `skipp`"),
        "{msg}"
    );
    let msg = error(parse_quote! {
        #[trace(leaf, not_leaf)]
        struct S { a: u8 }
    });
    assert!(
        msg.contains("unknown `trace` attribute argument `leaf`"),
        "{msg}"
    );
}

#[test]
fn misplaced_arguments() {
    let msg = error(parse_quote! {
        #[trace(skip)]
        struct S { a: u8 }
    });
    assert!(msg.contains("`#[trace(skip)]` belongs on a field"), "{msg}");

    let msg = error(parse_quote! {
        struct S { #[trace(not_leaf)] a: u8 }
    });
    assert!(
        msg.contains("`#[trace(not_leaf)]` belongs on the type itself, not on a field"),
        "{msg}"
    );

    let msg = error(parse_quote! {
        enum E { #[trace(skip)] V(u8) }
    });
    assert!(
        msg.contains("belongs on a field, not on an enum variant"),
        "{msg}"
    );
}

#[test]
fn malformed_arguments() {
    for input in [
        parse_quote!(
            struct S {
                #[trace(skip = true)]
                a: u8,
            }
        ),
        parse_quote!(
            struct S {
                #[trace(skip(x))]
                a: u8,
            }
        ),
    ] {
        let msg = error(input);
        assert!(msg.contains("`#[trace(skip)]` takes no value"), "{msg}");
    }
    let msg = error(parse_quote! {
        struct S { #[trace(skip, skip)] a: u8 }
    });
    assert!(msg.contains("duplicate `#[trace(skip)]`"), "{msg}");
    let msg = error(parse_quote! {
        struct S { #[trace] a: u8 }
    });
    assert!(msg.contains("expected attribute arguments"), "{msg}");
}

#[test]
fn every_error_is_reported() {
    let msg = error(parse_quote! {
        enum E {
            A(#[trace(bogus)] u8),
            B { #[trace(not_leaf)] b: u8 },
        }
    });
    assert!(msg.contains("`bogus`"), "{msg}");
    assert!(msg.contains("`#[trace(not_leaf)]` belongs on"), "{msg}");
}

#[test]
fn other_attributes_are_ignored() {
    let out = expanded(parse_quote! {
        #[derive(Debug)]
        #[doc = "x"]
        struct S { #[allow(dead_code)] #[doc = "y"] a: Gc<u8> }
    });
    assert_has(&out, "let Self { a: __f0 } = self;");
}
