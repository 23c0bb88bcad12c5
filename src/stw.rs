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
//! | `SUSPENDED` | held for a stop while detached; the restart makes it DETACHED             |
//! | `PARKED`    | held for a stop and waiting to run; the restart makes it ATTACHED         |
//!
//! Transitions: the owner moves DETACHED→ATTACHED (CAS, [`World::attach`]), ATTACHED→DETACHED
//! or, during a stop, →SUSPENDED ([`World::detach`]) or →PARKED ([`World::park`]), and
//! SUSPENDED→PARKED (an attach that finds itself held). The requester moves DETACHED→SUSPENDED
//! (CAS, in [`World::stop`]) and, at the restart, SUSPENDED→DETACHED and PARKED→ATTACHED. No
//! thread moves itself out of a held state to a running one (its SUSPENDED→PARKED only asks
//! to be handed back ATTACHED). The two CASes on DETACHED are what keep a
//! detached thread from re-attaching in the middle of a pause: whichever of owner and
//! requester wins, the other sees the result.
//!
//! **No starvation.** CPython returns every held thread to DETACHED at the restart; a requester
//! that stops again at once can re-suspend a thread before it manages to attach, and a tight
//! `gc.collect()` loop starves threads coming back from a safepoint or a blocking call
//! (gh-151518). Here a thread that wants to run is PARKED, and the restart hands it back
//! ATTACHED: the next stop must wait for it to reach its next safepoint, so every mutator makes
//! progress between two pauses.
//!
//! # Stopping
//!
//! 1. Requesters are serialised by `requesters`. A requester that must wait for it waits
//!    *detached*, so the winning requester can suspend it like any other detached thread.
//! 2. Under `inner`, the requester sets `stop_requested`, raises [`STOP`] in the breaker word,
//!    CASes every DETACHED thread to SUSPENDED and counts the ATTACHED ones in `countdown`.
//! 3. Each counted thread, at its next safepoint (or when it detaches or unregisters), marks
//!    itself PARKED (SUSPENDED when detaching, DETACHED when unregistering) under `inner` and
//!    decrements `countdown`; the one that reaches zero
//!    notifies `all_parked`. Every transition that can complete the stop notifies, so the
//!    requester never needs a timed poll (which loom could not model).
//! 4. The requester, ATTACHED throughout, gets a [`WorldStopped`] witness. Dropping it
//!    restarts the world: SUSPENDED→DETACHED, PARKED→ATTACHED, then `restarted.notify_all()`.
//!
//! A thread registering during a stop starts SUSPENDED; one unregistering while counted
//! decrements the countdown.
//!
//! # Why the pause is safe
//!
//! With the world stopped every registered thread other than the requester is SUSPENDED or
//! PARKED (*held*): it is
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
/// Held for a stop while detached: the restart makes it DETACHED.
pub const SUSPENDED: u8 = 2;
/// Held for a stop, waiting to run: the restart hands it back ATTACHED.
pub const PARKED: u8 = 3;

/// Breaker bit: a stop is requested; attached threads must park at their next safepoint.
pub const STOP: u32 = 1 << 0;

/// A bug planted on purpose, in loom builds only, so that the loom suite (`loom-tests/`) can
/// show that its models catch one. [`World::new`] plants none; normal builds have no switch.
#[cfg(loom)]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// The real protocol.
    None,
    /// [`World::attach`] loads DETACHED, then stores ATTACHED, instead of the compare-exchange:
    /// a requester's DETACHED→SUSPENDED CAS can fall in between, and the thread attaches in the
    /// middle of the pause.
    RacyAttach,
    /// [`World::stop`] does not wait for the countdown of attached threads.
    SkipCountdown,
}

/// One mutator thread's entry in the registry.
pub struct ThreadState {
    /// DETACHED, ATTACHED, SUSPENDED or PARKED.
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
    /// The loom suite's planted bug, if any.
    #[cfg(loom)]
    planted_bug: PlantedBug,
    /// Loom builds only: [`World::stop`] skips its `try_lock` fast path (see
    /// [`World::without_try_lock`]).
    #[cfg(loom)]
    no_try_lock: bool,
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
            #[cfg(loom)]
            planted_bug: PlantedBug::None,
            #[cfg(loom)]
            no_try_lock: false,
        }
    }

    /// An empty world with `bug` planted (loom builds only; for the loom suite).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn with_planted_bug(bug: PlantedBug) -> World {
        World {
            planted_bug: bug,
            ..World::new()
        }
    }

    /// Loom builds only: makes [`World::stop`] skip its `try_lock` fast path and always wait for
    /// the requester lock detached. For models with two requesters: loom 0.7.2 can report a
    /// false deadlock on a contended `try_lock` (tokio-rs/loom#376: a thread preempted just
    /// before its `try_lock` is marked blocked when another thread takes the lock, although
    /// `try_lock` never blocks). The slow path is taken by real contended requesters anyway.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn without_try_lock(self) -> World {
        World {
            no_try_lock: true,
            ..self
        }
    }

    /// Sets how long [`World::stop`] waits for attached threads before it raises a warning
    /// naming them (it then keeps waiting, warning again each period).
    #[cfg(not(loom))]
    pub fn set_warn_after(&self, d: std::time::Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        // Ordering: Relaxed; a tuning knob read once per wait.
        self.warn_after
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Under loom there is no timed wait (loom cannot model one), hence no warning: a no-op.
    #[cfg(loom)]
    pub fn set_warn_after(&self, _d: std::time::Duration) {}

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

    /// DETACHED → ATTACHED, waiting while the thread is held by a stop.
    pub fn attach(&self, ts: &ThreadState) {
        loop {
            #[cfg(loom)]
            if self.planted_bug == PlantedBug::RacyAttach {
                // Ordering: as the CAS below; the bug is the gap between load and store.
                if ts.state.load(Ordering::Acquire) == DETACHED {
                    ts.state.store(ATTACHED, Ordering::Relaxed);
                    return;
                }
                if self.wait_while_suspended(ts) {
                    return;
                }
                continue;
            }
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
            if self.wait_while_suspended(ts) {
                return;
            }
        }
    }

    /// Called when an attach found the thread SUSPENDED: asks to be handed back ATTACHED at
    /// the restart and waits for it. Returns `true` once ATTACHED, `false` if the state moved
    /// on before we looked (the restart already made it DETACHED: retry the CAS).
    #[cold]
    fn wait_while_suspended(&self, ts: &ThreadState) -> bool {
        let g = sync::lock(&self.inner);
        // Ordering: Relaxed load and store under `inner`, which every change of a held
        // thread's state also holds.
        if ts.state.load(Ordering::Relaxed) != SUSPENDED {
            return false;
        }
        ts.state.store(PARKED, Ordering::Relaxed);
        self.wait_until_attached(g, ts);
        true
    }

    /// Waits, holding `inner`, until the restart hands the PARKED thread back ATTACHED.
    fn wait_until_attached(&self, mut g: MutexGuard<'_, Inner>, ts: &ThreadState) {
        // Ordering: Acquire, paired with the restart's Release store of ATTACHED.
        while ts.state.load(Ordering::Acquire) == PARKED {
            g = sync::wait(&self.restarted, g);
        }
        debug_assert_eq!(ts.state(), ATTACHED);
    }

    /// ATTACHED → DETACHED, or → SUSPENDED if a stop is requested (counting this thread as
    /// held).
    pub fn detach(&self, ts: &ThreadState) {
        let mut g = sync::lock(&self.inner);
        self.leave_attached(&mut g, ts, SUSPENDED);
    }

    /// The slow path of a safepoint that saw [`STOP`]: held PARKED until the restart hands the
    /// thread back ATTACHED.
    #[cold]
    pub fn park(&self, ts: &ThreadState) {
        let mut g = sync::lock(&self.inner);
        if !g.stop_requested {
            return; // A stale bit: the stop is already over.
        }
        self.leave_attached(&mut g, ts, PARKED);
        self.wait_until_attached(g, ts);
    }

    /// Leaves ATTACHED: to `held` (SUSPENDED or PARKED), counted, if a stop is requested, else
    /// to DETACHED.
    fn leave_attached(&self, g: &mut MutexGuard<'_, Inner>, ts: &ThreadState, held: u8) {
        debug_assert_eq!(
            ts.state(),
            ATTACHED,
            "ftgc: leaving ATTACHED from another state"
        );
        let me = ts as *const ThreadState as usize;
        if g.stop_requested && g.requester != me {
            // Ordering: Release; the heap writes of this thread happen-before the requester's
            // reads (the requester also synchronises through `inner`).
            ts.state.store(held, Ordering::Release);
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

    /// Stops the world: returns once every other registered thread is held. `me` is the
    /// calling thread's state, which must be ATTACHED; it stays ATTACHED through the pause.
    pub fn stop<'w>(&'w self, me: &'w ThreadState) -> WorldStopped<'w> {
        debug_assert_eq!(
            me.state(),
            ATTACHED,
            "ftgc: stop requested by an unattached thread"
        );
        #[cfg(loom)]
        let attempt = if self.no_try_lock {
            None
        } else {
            sync::try_lock(&self.requesters)
        };
        #[cfg(not(loom))]
        let attempt = sync::try_lock(&self.requesters);
        let serial = match attempt {
            Some(g) => g,
            None => {
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
        let mut waited = core::time::Duration::ZERO;
        while g.countdown > 0 {
            #[cfg(loom)]
            if self.planted_bug == PlantedBug::SkipCountdown {
                break;
            }
            g = self.wait_all_parked(g, &mut waited);
        }
        drop(g);
        WorldStopped {
            world: self,
            me,
            _serial: serial,
        }
    }

    #[cfg(loom)]
    fn wait_all_parked<'g>(
        &'g self,
        g: MutexGuard<'g, Inner>,
        _waited: &mut core::time::Duration,
    ) -> MutexGuard<'g, Inner> {
        sync::wait(&self.all_parked, g)
    }

    /// Waits for `all_parked`; after each full `warn_after` period of waiting (`waited` adds
    /// them up), raises a [`Warning::SlowSafepoint`](crate::warning::Warning) naming the
    /// threads still attached.
    #[cfg(not(loom))]
    fn wait_all_parked<'g>(
        &'g self,
        g: MutexGuard<'g, Inner>,
        waited: &mut core::time::Duration,
    ) -> MutexGuard<'g, Inner> {
        let period = std::time::Duration::from_millis(
            // Ordering: Relaxed; a tuning knob.
            self.warn_after.load(std::sync::atomic::Ordering::Relaxed),
        );
        let (g, timeout) = match self.all_parked.wait_timeout(g, period) {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !(timeout.timed_out() && g.countdown > 0) {
            return g;
        }
        *waited += period;
        let threads: Vec<String> = g
            .threads
            .iter()
            .filter(|t| t.state() == ATTACHED && Arc::as_ptr(t) as usize != g.requester)
            .map(|t| t.name().to_owned())
            .collect();
        // The handler is user code: call it with `inner` released (a late thread it wakes must
        // take `inner` to park). The caller re-checks the countdown, so a thread parking
        // meanwhile is not missed. `emit` catches a panic of the handler: unwinding from here,
        // before a `WorldStopped` exists, would leave the world stopped.
        drop(g);
        crate::warning::emit(crate::warning::Warning::SlowSafepoint {
            threads,
            waited: *waited,
        });
        sync::lock(&self.inner)
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
            if Arc::as_ptr(t) as usize == me_addr {
                continue;
            }
            let next = match t.state() {
                SUSPENDED => DETACHED,
                PARKED => ATTACHED,
                s => unreachable!("ftgc: thread in state {s} at a restart"),
            };
            // Ordering: Release, paired with the Acquire CAS in `attach` (DETACHED) or the
            // Acquire load in `wait_until_attached` (ATTACHED): the collector's writes during
            // the pause happen-before the thread's next heap access.
            t.state.store(next, Ordering::Release);
        }
        drop(g);
        self.restarted.notify_all();
    }
}

/// Witness that the world is stopped: every registered thread but the holder is held
/// (SUSPENDED or PARKED).
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
