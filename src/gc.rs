//! The handles: [`Gc<T>`] (strong, reference counted) and [`Weak<T>`].

use core::alloc::Layout;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use std::alloc::handle_alloc_error;

use crate::collector::tracer_table;
use crate::header::{self, Header, TypeInfo, flags};
use crate::heap::{self, MAX_GC_OBJECT};
use crate::mutator::Mutator;
use crate::object::{self, runtime};
use crate::sync::{Arc, Ordering};
use crate::trace::{ObjRef, Trace, Tracer};
use crate::weak::WeakSlot;

/// A thread-safe, reference-counted handle to a garbage-collected `T`.
///
/// * Cloning increments an atomic count; dropping the last handle destroys the value at once
///   (acyclic garbage never waits for a collection). Cycles are found by the collector.
/// * Reading needs the thread's [`Mutator`]: [`get`](Gc::get). Handles themselves may be
///   cloned, moved and dropped on any thread, mutator or not.
/// * Comparison, hashing and ordering are by **identity** (the object's address), like
///   [`Gc::ptr_eq`]; they never read the value. Compare values with `a.get(m) == b.get(m)`.
/// * `Debug` prints the type and address, not the value.
#[repr(transparent)]
pub struct Gc<T> {
    obj: ObjRef,
    _owns: PhantomData<T>,
}

// SAFETY: a `Gc<T>` gives shared access to a `T` from any thread that has a mutator (`Sync`
// needed), and the last handle may destroy the `T` on any thread, or the collector may
// destroy it on its thread (`Send` needed). The count itself is atomic.
unsafe impl<T: Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Gc<T> {}

/// The static type table of `T`.
struct Info<T>(PhantomData<T>);

impl<T: Trace + Send + Sync + 'static> Info<T> {
    const TABLE: &'static TypeInfo = &TypeInfo {
        drop_value: drop_value::<T>,
        trace: tracer_table::<T>(),
        type_name: core::any::type_name::<T>,
        finalize: None,
        type_id: core::any::TypeId::of::<T>,
        value_layout: Layout::new::<T>(),
        block_size: match header::block_size(Layout::new::<T>()) {
            Some(n) => n,
            None => panic!("ftgc: object size overflows usize"),
        },
        leaf: !T::NEEDS_TRACE,
    };
}

/// The type table of a `T` allocated with [`Gc::new_finalized`]: `T`'s, with the finalizer.
struct FinalizedInfo<T>(PhantomData<T>);

impl<T: Finalize> FinalizedInfo<T> {
    const TABLE: &'static TypeInfo = &TypeInfo {
        finalize: Some(finalize_erased::<T>),
        ..*Info::<T>::TABLE
    };
}

/// Calls `T::finalize` on `obj`.
///
/// # Safety
/// `obj` holds an initialised, not destroyed `T` that a strong reference held by the caller
/// keeps alive for the call, and `m` is the calling thread's `&mut Mutator`.
unsafe fn finalize_erased<T: Finalize>(obj: ObjRef, m: *mut ()) {
    // A handle that borrows the caller's reference: never dropped.
    let this = core::mem::ManuallyDrop::new(Gc::<T> {
        obj,
        _owns: PhantomData,
    });
    // SAFETY: by the contract, `m` is an exclusive `&mut Mutator`.
    T::finalize(&this, unsafe { &mut *m.cast::<Mutator>() });
}

/// An opt-in hook that runs before the collector destroys an object it found to be garbage
/// (CPython's `__del__` with PEP 442 semantics). Allocate such objects with
/// [`Gc::new_finalized`].
///
/// * It runs at most once per object, on the collecting thread, with the world running and
///   before any object of the garbage it belongs to is destroyed (its cycle included).
/// * It gets a handle to the object and the mutator: it may read the object and others,
///   allocate, and store handles anywhere. Storing one where live objects can reach it
///   *resurrects* the object (and whatever it references): the collector then frees none of
///   them, and the finalizer does not run again when the object dies later.
/// * Weak references to the object are already cleared when it runs.
/// * It does not run when the object dies by its count reaching zero (no cycle), nor in the
///   save-all debug mode; `Drop` runs in every case.
/// * A panic in it does not stop the collection; it resumes when the collection is over.
pub trait Finalize: Trace + Send + Sync + 'static {
    /// Called once, before the object is destroyed as part of garbage.
    fn finalize(this: &Gc<Self>, m: &mut Mutator)
    where
        Self: Sized;
}

/// Drops the value of `obj` in place.
///
/// # Safety
/// `obj` holds an initialised `T` that nobody else can reach and that is not dropped again.
unsafe fn drop_value<T>(obj: ObjRef) {
    // SAFETY: by the contract.
    unsafe { core::ptr::drop_in_place(obj.value_addr(align_of::<T>()).cast::<T>()) }
}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Allocates `value` in the GC heap (or the leaf heap if `T` can hold no handle).
    ///
    /// Allocation is a safepoint: it may park this thread for another thread's collection, or
    /// run a collection itself when the allocation count says one is due.
    ///
    /// A tracked type (one whose [`Trace::NEEDS_TRACE`] is `true`: it can hold handles to
    /// tracked objects) must fit, with its header, in 1 GiB: a larger block could fall outside
    /// what mimalloc's heap walk sees. This is checked at compile time:
    ///
    /// ```compile_fail
    /// # use ftgc::{Gc, Mutator, Trace};
    /// #[derive(Trace)]
    /// struct Huge {
    ///     #[trace(skip)]
    ///     bytes: [u8; 1 << 30],
    ///     next: Option<Gc<Huge>>,
    /// }
    /// fn make(m: &mut Mutator, h: Huge) -> Gc<Huge> {
    ///     Gc::new(m, h) // error: GC-heap objects are limited to 1 GiB
    /// }
    /// let _instantiate: fn(&mut Mutator, Huge) -> Gc<Huge> = make;
    /// ```
    ///
    /// When memory is exhausted, runs a collection and tries once more (see
    /// [`try_new`](Gc::try_new)), then calls [`handle_alloc_error`], which by default prints
    /// the size and aborts the process.
    pub fn new(m: &mut Mutator, value: T) -> Gc<T> {
        match Gc::try_new(m, value) {
            Ok(gc) => gc,
            Err(e) => handle_alloc_error(e.layout()),
        }
    }

    /// Allocates `value` like [`new`](Gc::new), but returns an error instead of aborting when
    /// memory is exhausted: the way for a runtime to raise its own out-of-memory error.
    ///
    /// A failed allocation first runs a collection (even when automatic collection is
    /// [disabled](crate::Collector::disable): garbage cycles may hold the memory needed) and
    /// tries once more. If that fails too, the error hands `value` back undropped, and
    /// nothing of the attempt is left in the heap or in the allocation count.
    pub fn try_new(m: &mut Mutator, value: T) -> Result<Gc<T>, AllocError<T>> {
        Gc::try_new_with(m, value, Info::<T>::TABLE)
    }

    /// Allocates `value` with its type table `info`.
    fn try_new_with(
        m: &mut Mutator,
        value: T,
        info: &'static TypeInfo,
    ) -> Result<Gc<T>, AllocError<T>> {
        const {
            assert!(
                Info::<T>::TABLE.leaf || Info::<T>::TABLE.block_size <= MAX_GC_OBJECT,
                "ftgc: GC-heap objects are limited to 1 GiB (heap::MAX_GC_OBJECT) so that the \
                 heap walk sees them; keep big buffers in a Vec or Box inside the object"
            )
        };
        m.before_alloc(!info.leaf, info.block_size);
        // No safepoint from here until the header is written: the heap walk must only ever see
        // initialised headers. (The retry's collection runs before its allocation.)
        let block = match heap::alloc(info.block_size, info.leaf) {
            Some(block) => block,
            None => match m.alloc_after_collecting(info.block_size, info.leaf) {
                Some(block) => block,
                None => {
                    if !info.leaf {
                        object::count(-1, -(info.block_size as isize));
                    }
                    return Err(AllocError {
                        value,
                        layout: Layout::from_size_align(info.block_size, 16)
                            .unwrap_or(info.value_layout),
                    });
                }
            },
        };
        // SAFETY: `block` is a fresh block of `block_size` bytes, 16-byte aligned; the header
        // fits at its start and the value at `value_addr`, inside the block by `block_size`.
        unsafe {
            let obj = ObjRef(block.cast());
            block.cast::<Header>().write(Header::new(info));
            obj.value_addr(align_of::<T>()).cast::<T>().write(value);
            Ok(Gc {
                obj,
                _owns: PhantomData,
            })
        }
    }
}

/// The error of [`Gc::try_new`]: no memory for the object, even after a collection. It holds
/// the value, which was neither stored nor dropped.
pub struct AllocError<T> {
    value: T,
    layout: Layout,
}

impl<T> AllocError<T> {
    /// The value that could not be stored.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The block that could not be allocated (header and value).
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

impl<T> fmt::Debug for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllocError")
            .field("type", &core::any::type_name::<T>())
            .field("layout", &self.layout)
            .finish()
    }
}

impl<T> fmt::Display for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ftgc: out of memory: no block of {} bytes for a Gc<{}>, even after a collection",
            self.layout.size(),
            core::any::type_name::<T>()
        )
    }
}

impl<T> std::error::Error for AllocError<T> {}

impl<T: Finalize> Gc<T> {
    /// Allocates `value` like [`new`](Gc::new), with its [`Finalize`] hook armed: the
    /// collector calls it once before destroying the object as garbage.
    pub fn new_finalized(m: &mut Mutator, value: T) -> Gc<T> {
        match Gc::try_new_with(m, value, FinalizedInfo::<T>::TABLE) {
            Ok(gc) => gc,
            Err(e) => handle_alloc_error(e.layout()),
        }
    }
}

impl<T> Gc<T> {
    /// Borrows the value. The borrow lives no longer than the handle and the mutator token, so
    /// no reference into the heap survives to this thread's next safepoint.
    ///
    /// # Panics
    /// If the collector already destroyed the value: only possible through a handle that a
    /// destructor of garbage stored somewhere during a collection (the handle stays valid to
    /// drop, but its value is gone).
    #[inline]
    pub fn get<'a>(&'a self, _m: &'a Mutator) -> &'a T {
        let header = self.obj.header();
        // Ordering: Relaxed. DEAD is set during a pause; this thread, an attached mutator, has
        // synchronised with the pause's end when it re-attached.
        if header.flags(Ordering::Relaxed) & flags::DEAD != 0 {
            dead_value(header);
        }
        // SAFETY: the handle keeps the block allocated; the value is initialised and not
        // destroyed (not DEAD). `&Mutator` proves this thread is attached, and the borrow ends
        // before its next safepoint, so no collection runs while the reference lives; handles
        // give only shared access, and `T: Sync` is required to share it across threads.
        unsafe { &*self.obj.value_addr(align_of::<T>()).cast::<T>() }
    }

    /// Whether two handles point to the same object.
    #[inline]
    pub fn ptr_eq(a: &Gc<T>, b: &Gc<T>) -> bool {
        a.obj == b.obj
    }

    /// The object's address (stable: objects never move).
    #[inline]
    pub fn as_ptr(this: &Gc<T>) -> *const () {
        this.obj.as_ptr() as *const ()
    }

    /// Number of strong handles (a snapshot; saturated counts read `u32::MAX`).
    pub fn strong_count(this: &Gc<T>) -> u32 {
        let n = this.obj.header().strong_count();
        if n >= header::IMMORTAL_MIN {
            u32::MAX
        } else {
            n
        }
    }

    /// Whether the collector tracks the object: `T::NEEDS_TRACE` (it can hold handles to tracked
    /// objects, so a cycle can pass through it), and the object lives in the walked heap
    /// (CPython's `gc.is_tracked`). Leaf values are not tracked: numbers, strings, and values
    /// that hold only handles to leaf values.
    pub fn is_tracked(this: &Gc<T>) -> bool {
        !this.obj.header().info().leaf
    }

    /// Makes a weak reference and registers `callback` to run once when the object's weak
    /// references are cleared: when its last handle is dropped (on that thread, after the
    /// value is destroyed), or when a collection finds it to be garbage (on the collecting
    /// thread, after the world restarts, before finalizers and destructors run). The callback
    /// belongs to the object, not to the returned `Weak`: it runs even if that `Weak` was
    /// dropped first. (Should the object's weak references already be cleared, it runs at
    /// once.)
    pub fn downgrade_with_callback(
        this: &Gc<T>,
        callback: impl FnOnce() + Send + 'static,
    ) -> Weak<T> {
        let weak = Gc::downgrade(this);
        if let Some(f) = weak.slot.add_callback(Box::new(callback)) {
            f();
        }
        weak
    }

    /// Whether the object's finalizer has run (CPython's `gc.is_finalized`); always `false`
    /// for objects allocated without one.
    pub fn is_finalized(this: &Gc<T>) -> bool {
        // Ordering: Relaxed; a snapshot. The flag is set once, by the collecting thread.
        this.obj.header().flags(Ordering::Relaxed) & flags::FINALIZED != 0
    }

    /// Makes a weak reference.
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        // Ordering: Relaxed; DEAD is set during a pause, which every thread holding a handle to
        // a DEAD object (one a destructor of garbage kept) has synchronised with.
        let slot = if this.obj.header().flags(Ordering::Relaxed) & flags::DEAD != 0 {
            // The value is gone: a weak reference that was never alive. Putting it in the
            // table would leave an entry that outlives the block.
            Arc::new(WeakSlot::cleared())
        } else {
            // SAFETY: `this` is a strong handle to an object that is not DEAD, so it is alive
            // and not dying.
            unsafe { runtime().weak.slot(this.obj) }
        };
        Weak {
            slot,
            _t: PhantomData,
        }
    }
}

#[cold]
#[inline(never)]
fn dead_value(header: &Header) -> ! {
    panic!(
        "ftgc: read through a `Gc<{}>` whose value the cycle collector destroyed; a destructor \
         of garbage kept a handle to it (such handles may only be dropped)",
        (header.info().type_name)()
    )
}

impl<T> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Self {
        self.obj.header().inc_ref();
        Gc {
            obj: self.obj,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the handle owns one strong reference and gives it up.
        unsafe { object::release(self.obj) }
    }
}

impl<T> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Gc<{}>({:p})",
            core::any::type_name::<T>(),
            self.obj.as_ptr()
        )
    }
}

impl<T> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self, other)
    }
}

impl<T> Eq for Gc<T> {}

impl<T> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.obj.hash(state);
    }
}

impl<T> PartialOrd for Gc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Gc<T> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.obj.as_ptr() as usize).cmp(&(other.obj.as_ptr() as usize))
    }
}

// SAFETY: a handle reports exactly the one reference it owns (once), and nothing when the
// target can never be scanned (a leaf type never lives in the walked heap).
//
// `NEEDS_TRACE`: a cycle can pass through a handle only if its target can hold handles. The
// exact condition, `T::NEEDS_TRACE`, would make recursive types (`Node` holding
// `Option<Gc<Node>>`) a cycle of constants; `T::HOLDS_HANDLES` is its over-approximation that
// never looks through a `Gc`. So an object that holds only handles to leaf values (an item
// naming a `Gc<String>`) is a leaf itself, which CPython gets by untracking tuples of atomic
// objects.
unsafe impl<T: Trace> Trace for Gc<T> {
    const NEEDS_TRACE: bool = T::HOLDS_HANDLES;
    const HOLDS_HANDLES: bool = true;

    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        if T::NEEDS_TRACE {
            tracer.edge(self.obj);
        }
    }

    #[inline]
    fn trace_slice<V: Tracer>(slice: &[Self], tracer: &mut V) {
        if T::NEEDS_TRACE {
            // SAFETY: `Gc<T>` is `repr(transparent)` over `ObjRef` (PhantomData is a ZST).
            let objs = unsafe { &*(slice as *const [Gc<T>] as *const [ObjRef]) };
            tracer.span(objs);
        }
    }
}

/// A strong handle to a GC object of any type: what introspection hands out
/// ([`Mutator::objects`], [`referents`](Mutator::referents), the garbage kept by
/// [`Collector::set_debug_saveall`](crate::Collector::set_debug_saveall)). Turn it back into a
/// typed handle with [`downcast`](GcAny::downcast).
///
/// Like `Gc`, it counts as a reference from outside the heap, compares and hashes by identity,
/// and may be cloned and dropped on any thread.
pub struct GcAny {
    obj: ObjRef,
}

// SAFETY: every value in either heap is `Send + Sync` (`Gc::new` requires it), and `GcAny`
// gives no access to the value except through `downcast` to its own type.
unsafe impl Send for GcAny {}
// SAFETY: as above.
unsafe impl Sync for GcAny {}

impl GcAny {
    /// A handle to `obj`, taking a new strong reference.
    ///
    /// # Safety
    /// `obj` is an allocated object whose count is above zero and cannot reach zero during
    /// the call (the world is stopped and it is referenced, or the caller holds a handle). It
    /// may be DEAD (a handle a destructor kept): the handle is then only good for dropping,
    /// as the `Gc` it downcasts to.
    pub(crate) unsafe fn from_live(obj: ObjRef) -> GcAny {
        obj.header().inc_ref();
        GcAny { obj }
    }

    /// A handle to `obj` that takes over a strong reference the caller owns.
    ///
    /// # Safety
    /// The caller owns one strong reference to `obj` (an allocated object) and gives it up.
    pub(crate) unsafe fn from_owned(obj: ObjRef) -> GcAny {
        GcAny { obj }
    }

    /// The object.
    pub(crate) fn obj(&self) -> ObjRef {
        self.obj
    }

    /// Name of the value's type.
    pub fn type_name(&self) -> &'static str {
        (self.obj.header().info().type_name)()
    }

    /// Whether the value is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        (self.obj.header().info().type_id)() == core::any::TypeId::of::<T>()
    }

    /// The typed handle, if the value is a `T`; else the handle back.
    pub fn downcast<T: 'static>(self) -> Result<Gc<T>, GcAny> {
        if !self.is::<T>() {
            return Err(self);
        }
        let this = core::mem::ManuallyDrop::new(self);
        // The strong reference moves from `this` to the typed handle.
        Ok(Gc {
            obj: this.obj,
            _owns: PhantomData,
        })
    }

    /// Whether two handles point to the same object.
    pub fn ptr_eq(a: &GcAny, b: &GcAny) -> bool {
        a.obj == b.obj
    }

    /// Whether the collector tracks the object (its type's `NEEDS_TRACE`, see
    /// [`Gc::is_tracked`]): CPython's `gc.is_tracked`.
    pub fn is_tracked(&self) -> bool {
        !self.obj.header().info().leaf
    }
}

impl<T: Trace + Send + Sync + 'static> From<Gc<T>> for GcAny {
    fn from(gc: Gc<T>) -> GcAny {
        let gc = core::mem::ManuallyDrop::new(gc);
        GcAny { obj: gc.obj }
    }
}

impl Clone for GcAny {
    fn clone(&self) -> Self {
        self.obj.header().inc_ref();
        GcAny { obj: self.obj }
    }
}

impl Drop for GcAny {
    fn drop(&mut self) {
        // SAFETY: the handle owns one strong reference and gives it up.
        unsafe { object::release(self.obj) }
    }
}

impl fmt::Debug for GcAny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcAny<{}>({:p})", self.type_name(), self.obj.as_ptr())
    }
}

impl PartialEq for GcAny {
    fn eq(&self, other: &Self) -> bool {
        GcAny::ptr_eq(self, other)
    }
}

impl Eq for GcAny {}

impl Hash for GcAny {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.obj.hash(state);
    }
}

/// A weak reference: does not keep the value alive.
///
/// [`upgrade`](Weak::upgrade) fails once the value's last handle is gone or the collector has
/// found it to be garbage; the collector clears weak references to garbage before any
/// destructor runs.
pub struct Weak<T> {
    slot: Arc<WeakSlot>,
    _t: PhantomData<fn() -> T>,
}

// SAFETY: a `Weak<T>` only yields a `Gc<T>` (on a mutator thread), which is `Send + Sync` under
// the same bounds; the slot is internally synchronised.
unsafe impl<T: Send + Sync> Send for Weak<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Weak<T> {}

impl<T> Weak<T> {
    /// A strong handle, if the value is still alive. Needs the mutator token: a collection may
    /// not run while a weak reference is being turned into a strong one.
    pub fn upgrade(&self, _m: &Mutator) -> Option<Gc<T>> {
        self.slot.with_target(|target| {
            let obj = target?;
            let header = obj.header();
            // Ordering: Relaxed; DEAD is set during a pause, which also clears the slot.
            if header.flags(Ordering::Relaxed) & flags::DEAD != 0 || !try_inc_ref(header) {
                return None;
            }
            Some(Gc {
                obj,
                _owns: PhantomData,
            })
        })
    }

    /// Whether the value is gone (its weak references were cleared). `false` does not promise
    /// that a later `upgrade` succeeds.
    pub fn is_dead(&self) -> bool {
        self.slot.is_cleared()
    }

    /// Whether two weak references point to the same object.
    pub fn ptr_eq(a: &Weak<T>, b: &Weak<T>) -> bool {
        Arc::ptr_eq(&a.slot, &b.slot)
    }
}

/// `Header::try_inc_ref`, or under loom the planted bug that skips its check for 0.
#[inline]
fn try_inc_ref(header: &Header) -> bool {
    #[cfg(loom)]
    if crate::sync::planted::is(crate::sync::planted::Bug::RacyUpgrade) {
        header.inc_ref();
        return true;
    }
    header.try_inc_ref()
}

impl<T> Clone for Weak<T> {
    fn clone(&self) -> Self {
        Weak {
            slot: self.slot.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Weak<{}>", core::any::type_name::<T>())
    }
}

// SAFETY: a weak reference is not a reference the collector must count: it reports nothing.
unsafe impl<T> Trace for Weak<T> {
    const NEEDS_TRACE: bool = false;
    const HOLDS_HANDLES: bool = false;
    #[inline]
    fn trace<V: Tracer>(&self, _tracer: &mut V) {}
}

/// A strong handle registered as a **known root**: the collector marks everything it reaches
/// alive before the cycle search, so those objects cost one visit instead of the full
/// refcount analysis.
///
/// Register what a runtime knows to be alive for a long time: its module table, interned
/// objects, each VM thread's stack (keep the stack itself in a GC object, for example a
/// `Gc<GcMutex<Vec<Value>>>`, and root that). Roots are an optimisation only: an object
/// referenced from anywhere is kept alive whether or not a root reaches it, and a rooted
/// object that becomes garbage is collected once its `Root` is dropped.
///
/// A `Root` is a `Gc` (it dereferences to one) that unregisters itself when dropped.
///
/// ```
/// use ftgc::{Gc, GcMutex, Mutator, Root, Trace};
///
/// #[derive(Trace)]
/// struct Module {
///     name: Gc<String>,
///     imports: GcMutex<Vec<Gc<Module>>>,
/// }
///
/// let mut m = Mutator::new();
/// let mut module = |m: &mut Mutator, name: &str| {
///     let name = Gc::new(m, name.to_string());
///     Gc::new(m, Module { name, imports: GcMutex::new(Vec::new()) })
/// };
/// let main = Root::new(module(&mut m, "main"));
/// let os = module(&mut m, "os");
/// main.get(&m).imports.lock().push(os);
/// let stats = m.collect();
/// assert!(stats.alive >= 2); // both modules were marked alive from the root
/// ```
pub struct Root<T> {
    gc: Gc<T>,
    slot: usize,
}

impl<T> Root<T> {
    /// Registers `gc` as a known root for as long as the `Root` lives.
    pub fn new(gc: Gc<T>) -> Root<T> {
        let slot = runtime().add_root(gc.obj);
        Root { gc, slot }
    }

    /// Unregisters the root and returns the handle.
    pub fn into_inner(self) -> Gc<T> {
        let this = core::mem::ManuallyDrop::new(self);
        runtime().remove_root(this.slot);
        // SAFETY: `this` is never used or dropped again; the handle is moved out exactly once.
        unsafe { core::ptr::read(&this.gc) }
    }
}

impl<T> core::ops::Deref for Root<T> {
    type Target = Gc<T>;
    fn deref(&self) -> &Gc<T> {
        &self.gc
    }
}

impl<T> Drop for Root<T> {
    fn drop(&mut self) {
        // Unregister before the handle goes (the field is dropped after this).
        runtime().remove_root(self.slot);
    }
}

impl<T> fmt::Debug for Root<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root({:?})", self.gc)
    }
}
