//! Stop the world: the safepoint protocol (CPython's `pystate.c` state machine).
//!
//! # States
//!
//! Each registered mutator thread has one [`ThreadState`] word:
//!
//! | state       | meaning                                                                 |
//! |-------------|-------------------------------------------------------------------------|
//! | `DETACHED`  | not touching the heap (blocking call, between registrations, ...)      |
//! | `ATTACHED`  | may read objects, allocate and free; must poll safepoints               |
//! | `SUSPENDED` | parked for a stop; only the requester (via [`WorldStopped`]'s drop) moves it out |
//!
//! Transitions: the owner moves DETACHED→ATTACHED (CAS, [`World::attach`]) and
//! ATTACHED→DETACHED or ATTACHED→SUSPENDED ([`World::detach`], [`World::park`]); the requester
//! moves DETACHED→SUSPENDED (CAS, in [`World::stop`]) and SUSPENDED→DETACHED (restart). No thread
//! moves itself out of SUSPENDED. The two CASes on DETACHED are what keep a detached thread from
//! re-attaching in the middle of a pause: whichever of owner and requester wins, the other sees
//! the result.
//!
//! # Stopping
//!
//! 1. Requesters are serialised by `requesters`. A requester that must wait for it waits
//!    *detached*, so the winning requester can suspend it like any other detached thread.
//! 2. Under `inner`, the requester sets `stop_requested`, raises [`STOP`] in the breaker word,
//!    CASes every DETACHED thread to SUSPENDED and counts the ATTACHED ones in `countdown`.
//! 3. Each counted thread, at its next safepoint (or when it detaches or unregisters), marks
//!    itself SUSPENDED under `inner` and decrements `countdown`; the one that reaches zero
//!    notifies `all_parked`. Every transition that can complete the stop notifies, so the
//!    requester never needs a timed poll (which loom could not model).
//! 4. The requester, ATTACHED throughout, gets a [`WorldStopped`] witness. Dropping it
//!    restarts the world: SUSPENDED→DETACHED for everyone, then `restarted.notify_all()`.
//!
//! A thread registering during a stop starts SUSPENDED; one unregistering while counted
//! decrements the countdown.
//!
//! # Why the pause is safe
//!
//! With the world stopped every registered thread other than the requester is SUSPENDED: it is
//! either blocked in [`World::attach`] or has not returned from a `detached` section, and in both
//! cases it holds no reference into the heap (the public API makes that a borrow-check fact:
//! see the crate docs). All its heap writes happen-before the requester's reads: they precede
//! its last transition out of ATTACHED, made under `inner` (or observed by the requester's
//! Acquire CAS), and the requester locks `inner` after it.

use crate::sync::{self, Arc, AtomicU8, AtomicU32, Condvar, Mutex, MutexGuard, Ordering};

/// The thread is not touching the heap.
pub const DETACHED: u8 = 0;
/// The thread may touch the heap and polls safepoints.
pub const ATTACHED: u8 = 1;
/// The thread is parked for a stop.
pub const SUSPENDED: u8 = 2;

/// Breaker bit: a stop is requested; attached threads must park at their next safepoint.
pub const STOP: u32 = 1 << 0;

/// One mutator thread's entry in the registry.
pub struct ThreadState {
    /// DETACHED, ATTACHED or SUSPENDED.
    state: AtomicU8,
    /// The thread's name, for the "never reaches a safepoint" warning.
    name: String,
}

impl ThreadState {
    /// The current state (a snapshot).
    pub fn state(&self) -> u8 {
        // Ordering: Relaxed; a snapshot for assertions and diagnostics.
        self.state.load(Ordering::Relaxed)
    }

    /// The name given at registration.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// State guarded by `World::inner` (CPython's HEAD_LOCK).
struct Inner {
    threads: Vec<Arc<ThreadState>>,
    stop_requested: bool,
    /// Address of the requester's `ThreadState` while a stop is requested, else 0.
    requester: usize,
    /// ATTACHED threads the requester still waits for.
    countdown: usize,
}

/// The registry of mutator threads and the stop-the-world machinery.
pub struct World {
    /// Bits that make a safepoint poll take its slow path: [`STOP`] and bits owned by upper
    /// layers (pending releases). Read with one Relaxed load per poll.
    breaker: AtomicU32,
    inner: Mutex<Inner>,
    /// Notified when `countdown` reaches zero.
    all_parked: Condvar,
    /// Notified when the world restarts.
    restarted: Condvar,
    /// Serialises requesters.
    requesters: Mutex<()>,
    /// After this long waiting for attached threads, warn (std only; loom cannot time out).
    #[cfg(not(loom))]
    warn_after: std::sync::atomic::AtomicU64,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// An empty world.
    pub fn new() -> World {
        World {
            breaker: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                threads: Vec::new(),
                stop_requested: false,
                requester: 0,
                countdown: 0,
            }),
            all_parked: Condvar::new(),
            restarted: Condvar::new(),
            requesters: Mutex::new(()),
            #[cfg(not(loom))]
            warn_after: std::sync::atomic::AtomicU64::new(10_000),
        }
    }

    /// Sets how long [`World::stop`] waits for attached threads before it prints a warning
    /// naming them (it then keeps waiting, warning again each period).
    #[cfg(not(loom))]
    pub fn set_warn_after(&self, d: std::time::Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        // Ordering: Relaxed; a tuning knob read once per wait.
        self.warn_after
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The breaker word. A safepoint compares it with zero.
    #[inline]
    pub fn breaker(&self) -> u32 {
        // Ordering: Relaxed. A poll that misses a just-raised bit takes the slow path at the
        // next poll; the slow paths synchronise through `inner` (or their own locks).
        self.breaker.load(Ordering::Relaxed)
    }

    /// Raises breaker bits owned by an upper layer.
    pub fn raise(&self, bits: u32) {
        debug_assert_eq!(bits & STOP, 0);
        // Ordering: Relaxed; see `breaker`.
        self.breaker.fetch_or(bits, Ordering::Relaxed);
    }

    /// Clears breaker bits owned by an upper layer.
    pub fn clear(&self, bits: u32) {
        debug_assert_eq!(bits & STOP, 0);
        // Ordering: Relaxed; see `breaker`.
        self.breaker.fetch_and(!bits, Ordering::Relaxed);
    }

    /// Registers the calling thread as a mutator and attaches it (waiting if a stop is in
    /// progress).
    pub fn register(&self, name: String) -> Arc<ThreadState> {
        let ts = Arc::new(ThreadState {
            state: AtomicU8::new(DETACHED),
            name,
        });
        {
            let mut g = sync::lock(&self.inner);
            if g.stop_requested {
                // Ordering: Relaxed; published to other threads by the `inner` unlock.
                ts.state.store(SUSPENDED, Ordering::Relaxed);
            }
            g.threads.push(ts.clone());
        }
        self.attach(&ts);
        ts
    }

    /// Removes a thread from the registry. It must be ATTACHED or DETACHED (not parked).
    pub fn unregister(&self, ts: &Arc<ThreadState>) {
        let mut g = sync::lock(&self.inner);
        // Ordering: Relaxed; every change of this word by another thread happens under `inner`,
        // which we hold.
        let state = ts.state.load(Ordering::Relaxed);
        if state == ATTACHED && g.stop_requested {
            // A requester counted us as attached: we will never reach a safepoint now.
            self.count_parked(&mut g);
        }
        // Ordering: Release; anything still watching this state sees the thread gone.
        ts.state.store(DETACHED, Ordering::Release);
        g.threads.retain(|t| !Arc::ptr_eq(t, ts));
    }

    /// DETACHED → ATTACHED, waiting while the thread is SUSPENDED.
    pub fn attach(&self, ts: &ThreadState) {
        loop {
            // Ordering: Acquire on success, paired with the Release stores of DETACHED (by the
            // restart, or by our own detach): everything the collector did during the pause
            // happens-before our next access to the heap.
            if ts
                .state
                .compare_exchange(DETACHED, ATTACHED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            self.wait_while_suspended(ts);
        }
    }

    #[cold]
    fn wait_while_suspended(&self, ts: &ThreadState) {
        let mut g = sync::lock(&self.inner);
        // Ordering: Relaxed; SUSPENDED→DETACHED happens under `inner`, which we hold.
        while ts.state.load(Ordering::Relaxed) == SUSPENDED {
            g = sync::wait(&self.restarted, g);
        }
    }

    /// ATTACHED → DETACHED, or → SUSPENDED if a stop is requested (counting this thread as
    /// parked).
    pub fn detach(&self, ts: &ThreadState) {
        let mut g = sync::lock(&self.inner);
        self.leave_attached(&mut g, ts);
    }

    /// The slow path of a safepoint that saw [`STOP`]: park until the world restarts, then
    /// attach again.
    #[cold]
    pub fn park(&self, ts: &ThreadState) {
        {
            let mut g = sync::lock(&self.inner);
            if !g.stop_requested {
                return; // A stale bit: the stop is already over.
            }
            self.leave_attached(&mut g, ts);
        }
        self.attach(ts);
    }

    fn leave_attached(&self, g: &mut MutexGuard<'_, Inner>, ts: &ThreadState) {
        debug_assert_eq!(
            ts.state(),
            ATTACHED,
            "ftgc: leaving ATTACHED from another state"
        );
        let me = ts as *const ThreadState as usize;
        if g.stop_requested && g.requester != me {
            // Ordering: Release; the heap writes of this thread happen-before the requester's
            // reads (the requester also synchronises through `inner`).
            ts.state.store(SUSPENDED, Ordering::Release);
            self.count_parked(g);
        } else {
            // Ordering: Release, paired with the requester's Acquire CAS DETACHED→SUSPENDED.
            ts.state.store(DETACHED, Ordering::Release);
        }
    }

    fn count_parked(&self, g: &mut MutexGuard<'_, Inner>) {
        debug_assert!(g.countdown > 0, "ftgc: stop-the-world countdown underflow");
        g.countdown -= 1;
        if g.countdown == 0 {
            self.all_parked.notify_one();
        }
    }

    /// Stops the world: returns once every other registered thread is SUSPENDED. `me` is the
    /// calling thread's state, which must be ATTACHED; it stays ATTACHED through the pause.
    pub fn stop<'w>(&'w self, me: &'w ThreadState) -> WorldStopped<'w> {
        debug_assert_eq!(
            me.state(),
            ATTACHED,
            "ftgc: stop requested by an unattached thread"
        );
        let serial = match self.requesters.try_lock() {
            Ok(g) => g,
            Err(_) => {
                // Another requester is active: wait detached so that it can suspend us.
                self.detach(me);
                let g = sync::lock(&self.requesters);
                self.attach(me);
                g
            }
        };
        let mut g = sync::lock(&self.inner);
        g.stop_requested = true;
        g.requester = me as *const ThreadState as usize;
        g.countdown = 0;
        // Ordering: Relaxed; the bit only hurries attached threads to their slow path, which
        // re-checks `stop_requested` under `inner`.
        self.breaker.fetch_or(STOP, Ordering::Relaxed);
        let me_addr = g.requester;
        let mut countdown = 0;
        for t in &g.threads {
            if Arc::as_ptr(t) as usize == me_addr {
                continue;
            }
            // Ordering: Acquire on success, paired with the owner's Release store of DETACHED:
            // its heap writes happen-before the collector's reads.
            match t.state.compare_exchange(
                DETACHED,
                SUSPENDED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {}
                Err(ATTACHED) => countdown += 1,
                Err(s) => unreachable!("ftgc: thread in state {s} at the start of a stop"),
            }
        }
        g.countdown = countdown;
        while g.countdown > 0 {
            g = self.wait_all_parked(g);
        }
        drop(g);
        WorldStopped {
            world: self,
            me,
            _serial: serial,
        }
    }

    #[cfg(loom)]
    fn wait_all_parked<'g>(&self, g: MutexGuard<'g, Inner>) -> MutexGuard<'g, Inner> {
        sync::wait(&self.all_parked, g)
    }

    #[cfg(not(loom))]
    fn wait_all_parked<'g>(&self, g: MutexGuard<'g, Inner>) -> MutexGuard<'g, Inner> {
        let period = std::time::Duration::from_millis(
            // Ordering: Relaxed; a tuning knob.
            self.warn_after.load(std::sync::atomic::Ordering::Relaxed),
        );
        let (g, timeout) = match self.all_parked.wait_timeout(g, period) {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if timeout.timed_out() && g.countdown > 0 {
            let stuck: Vec<&str> = g
                .threads
                .iter()
                .filter(|t| t.state() == ATTACHED && Arc::as_ptr(t) as usize != g.requester)
                .map(|t| t.name())
                .collect();
            eprintln!(
                "ftgc: warning: stop-the-world has waited {period:?} for mutator thread(s) {stuck:?} \
                 to reach a safepoint; a mutator must call `Mutator::safepoint` regularly, or run \
                 long or blocking work inside `Mutator::detached`"
            );
        }
        g
    }

    /// Number of registered threads.
    pub fn thread_count(&self) -> usize {
        sync::lock(&self.inner).threads.len()
    }

    fn restart(&self, me: &ThreadState) {
        let mut g = sync::lock(&self.inner);
        let me_addr = me as *const ThreadState as usize;
        debug_assert_eq!(g.requester, me_addr);
        g.stop_requested = false;
        g.requester = 0;
        // Ordering: Relaxed; a stale STOP bit costs one slow-path check under `inner`.
        self.breaker.fetch_and(!STOP, Ordering::Relaxed);
        for t in &g.threads {
            if Arc::as_ptr(t) as usize != me_addr {
                debug_assert_eq!(t.state(), SUSPENDED, "ftgc: unsuspended thread at restart");
                // Ordering: Release, paired with the Acquire CAS in `attach`: the collector's
                // writes during the pause happen-before the thread's next heap access.
                t.state.store(DETACHED, Ordering::Release);
            }
        }
        drop(g);
        self.restarted.notify_all();
    }
}

/// Witness that the world is stopped: every registered thread but the holder is SUSPENDED.
/// Only [`World::stop`] makes one; dropping it restarts the world. Heap walks require it.
pub struct WorldStopped<'w> {
    world: &'w World,
    me: &'w ThreadState,
    _serial: MutexGuard<'w, ()>,
}

impl Drop for WorldStopped<'_> {
    fn drop(&mut self) {
        // Runs on every exit from a pause, a panicking collection included, before the
        // requester lock (`_serial`) is released.
        self.world.restart(self.me);
    }
}
