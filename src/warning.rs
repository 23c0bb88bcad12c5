//! Warnings: conditions the collector survives but the embedder should hear about.
//!
//! They go to one process-wide handler, standard error by default (the `log` crate at warn
//! level with the `log` feature), so that a runtime can route them to its own log. The handler
//! runs on the thread that raised the warning; for a late safepoint that is the collecting
//! thread, waiting for the stop with the collection locks held, so the handler must not
//! collect, register a mutator or wait for a mutator thread (it may wake one). A panic in the
//! handler is caught and reported on standard error: the stop goes on.
//!
//! Not a modelled protocol: plain `std` locks, also under loom (where no warning is raised).

use core::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// A condition the collector survives but reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A collection has waited `waited` for attached mutator threads to reach a safepoint (it
    /// keeps waiting and warns again each period: [`Collector::set_stop_warning`]).
    ///
    /// [`Collector::set_stop_warning`]: crate::Collector::set_stop_warning
    SlowSafepoint {
        /// Names of the threads that are late (thread name and id, as registered).
        threads: Vec<String>,
        /// How long this collection has waited so far.
        waited: Duration,
    },
    /// The collector's worker threads could not be started; collections run on one thread.
    WorkersUnavailable {
        /// Workers asked for.
        requested: usize,
        /// The operating system's error.
        error: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SlowSafepoint { threads, waited } => write!(
                f,
                "ftgc: warning: stop-the-world has waited {waited:?} for mutator thread(s) \
                 {threads:?} to reach a safepoint; a mutator must call `Mutator::safepoint` \
                 regularly, or run long or blocking work inside `Mutator::detached`"
            ),
            Warning::WorkersUnavailable { requested, error } => write!(
                f,
                "ftgc: warning: could not start {requested} collector worker threads ({error}); \
                 collecting on one thread"
            ),
        }
    }
}

/// A warning handler.
pub type WarningHandler = Box<dyn Fn(&Warning) + Send + Sync>;

/// The installed handler, shared so that `emit` can call it with the lock released.
type SharedHandler = Arc<dyn Fn(&Warning) + Send + Sync>;

static HANDLER: RwLock<Option<SharedHandler>> = RwLock::new(None);

/// Installs `handler` (`None`: print to standard error, the default).
pub(crate) fn set_handler(handler: Option<WarningHandler>) {
    *HANDLER.write().unwrap_or_else(PoisonError::into_inner) = handler.map(Arc::from);
}

/// Reports `w` to the handler, called with its own lock released (it may install another
/// handler). Never unwinds: a panic in the handler, in the `log` backend or in writing to
/// standard error is caught (the stop-the-world protocol emits warnings with the world half
/// stopped).
pub(crate) fn emit(w: Warning) {
    let handler = HANDLER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let report = || match handler {
        Some(h) => h(&w),
        #[cfg(feature = "log")]
        None => log::warn!(target: "ftgc", "{w}"),
        #[cfg(not(feature = "log"))]
        None => eprintln!("{w}"),
    };
    if catch_unwind(AssertUnwindSafe(report)).is_err() {
        // Best effort: this write may fail too, and then it must not unwind either.
        let _ = catch_unwind(|| {
            eprintln!("ftgc: reporting a warning panicked; the warning was: {w}");
        });
    }
}
