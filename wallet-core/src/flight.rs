//! Single flight: concurrent callers that need the same resource fetched share one fetch.
//!
//! A verifier under load meets a cold or expired cache entry (a Token Status List past its
//! `ttl`, a CRL past its refresh) with many presentations in flight at once; without this each
//! of them fetched the same list from the issuer. With [`Flights::run`] the first caller for a
//! key fetches (the leader) and the others wait for its result. What a flight shares is the
//! fetch only: each caller still verifies the bytes with its own trust (its issuer's keys).
//! (What the caches keep afterwards is theirs to bind: `CrlCache` keeps a CRL with its
//! issuer's name and key, `StatusCache` a list by its URI.)
//!
//! No runtime is assumed (wallet-core runs on the verifier's tokio and inside phone apps): the
//! waiters are plain [`Waker`]s. A leader whose future is dropped before it finishes (a client
//! that went away) abandons the flight, and one of the waiters leads a new one.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The fetches under way, by key (a URI).
#[derive(Debug)]
pub struct Flights<T> {
    running: Mutex<HashMap<String, Arc<Slot<T>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Self { running: Mutex::new(HashMap::new()) }
    }
}

#[derive(Debug)]
struct Slot<T> {
    state: Mutex<State<T>>,
}

#[derive(Debug)]
enum State<T> {
    Running(Vec<Waker>),
    Done(T),
    Abandoned,
}

/// What [`Flights::join`] made of the caller.
#[derive(Debug)]
pub enum Joined<'a, T> {
    /// No fetch was under way: the caller fetches and hands the result to [`Leader::finish`].
    Lead(Leader<'a, T>),
    /// A fetch is under way: its result, or `None` if its leader gave up.
    Follow(Follower<T>),
}

impl<T> Flights<T> {
    /// No fetch under way.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many fetches are under way.
    pub fn len(&self) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Leads the fetch of `key` if none is under way, else follows the one that is.
    pub fn join(&self, key: &str) -> Joined<'_, T> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = running.get(key) {
            return Joined::Follow(Follower { slot: slot.clone() });
        }
        let slot = Arc::new(Slot { state: Mutex::new(State::Running(Vec::new())) });
        running.insert(key.to_owned(), slot.clone());
        Joined::Lead(Leader { flights: self, key: key.to_owned(), slot, finished: false })
    }

    fn land(&self, key: &str, slot: &Arc<Slot<T>>, end: State<T>) {
        {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            if running.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
                running.remove(key);
            }
        }
        let waiting = {
            let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            match std::mem::replace(&mut *state, end) {
                State::Running(wakers) => wakers,
                State::Done(_) | State::Abandoned => Vec::new(),
            }
        };
        waiting.into_iter().for_each(Waker::wake);
    }
}

impl<T: Clone> Flights<T> {

    /// `fetch()`'s result for `key`, fetched once for every caller that asks while it runs.
    pub async fn run<F, Fut>(&self, key: &str, fetch: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        loop {
            match self.join(key) {
                Joined::Lead(leader) => {
                    let value = fetch().await;
                    leader.finish(value.clone());
                    return value;
                }
                Joined::Follow(follower) => {
                    if let Some(value) = follower.await {
                        return value;
                    }
                    // The leader gave up: lead or follow the next flight.
                }
            }
        }
    }
}

/// The caller that fetches; dropping it unfinished abandons the flight.
#[derive(Debug)]
pub struct Leader<'a, T> {
    flights: &'a Flights<T>,
    key: String,
    slot: Arc<Slot<T>>,
    finished: bool,
}

impl<T> Leader<'_, T> {
    /// Hands `value` to every follower and ends the flight (the next [`Flights::join`] of this
    /// key leads a new one).
    pub fn finish(mut self, value: T) {
        self.finished = true;
        self.flights.land(&self.key, &self.slot, State::Done(value));
    }
}

impl<T> Drop for Leader<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            self.flights.land(&self.key, &self.slot, State::Abandoned);
        }
    }
}

/// Waits for a flight led by another caller.
#[derive(Debug)]
pub struct Follower<T> {
    slot: Arc<Slot<T>>,
}

impl<T: Clone> Future for Follower<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *state {
            State::Running(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Done(value) => Poll::Ready(Some(value.clone())),
            State::Abandoned => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn followers_get_the_leaders_result_and_are_woken_once_each() {
        let flights = Flights::<u32>::new();
        let Joined::Lead(leader) = flights.join("https://a/crl") else { panic!("the first caller leads") };
        let counts: Vec<_> = (0..3).map(|_| Arc::new(Count(AtomicUsize::new(0)))).collect();
        let mut followers: Vec<_> = (0..3)
            .map(|_| match flights.join("https://a/crl") {
                Joined::Follow(f) => f,
                Joined::Lead(_) => panic!("a fetch is under way"),
            })
            .collect();
        for (f, c) in followers.iter_mut().zip(&counts) {
            let w = Waker::from(c.clone());
            assert!(poll(f, &w).is_pending());
            assert!(poll(f, &w).is_pending(), "polled again: the waker is not kept twice");
        }
        // Another key is another flight.
        assert!(matches!(flights.join("https://b/crl"), Joined::Lead(_)));
        assert_eq!(flights.len(), 1, "b's leader was dropped at once: only a's flight runs");
        leader.finish(7);
        assert!(flights.is_empty());
        for (f, c) in followers.iter_mut().zip(&counts) {
            assert_eq!(c.0.load(Ordering::SeqCst), 1);
            assert_eq!(poll(f, Waker::noop()), Poll::Ready(Some(7)));
        }
        assert!(matches!(flights.join("https://a/crl"), Joined::Lead(_)), "a finished flight is not reused");
    }

    #[test]
    fn a_dropped_leader_abandons_and_a_follower_leads_the_next_flight() {
        let flights = Flights::<u32>::new();
        let leader = flights.join("k");
        let Joined::Follow(mut follower) = flights.join("k") else { panic!("follows") };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        assert!(poll(&mut follower, &Waker::from(count.clone())).is_pending());
        drop(leader);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut follower, Waker::noop()), Poll::Ready(None));
        assert!(flights.is_empty());

        // Through `run`: the caller whose leader gave up fetches itself.
        let fetched = AtomicUsize::new(0);
        let leader = flights.join("k");
        let mut run = Box::pin(flights.run("k", || async {
            fetched.fetch_add(1, Ordering::SeqCst);
            9
        }));
        assert!(run.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        drop(leader);
        assert_eq!(run.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(9));
        assert_eq!(fetched.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn run_fetches_once_for_callers_that_overlap() {
        let flights = Flights::<Result<u32, String>>::new();
        let fetched = AtomicUsize::new(0);
        let gate = Arc::new(Mutex::new(false));
        // A fetch that waits until the gate opens (polled by hand: no runtime here).
        let fetch = || {
            let gate = gate.clone();
            let fetched = &fetched;
            std::future::poll_fn(move |_| {
                if *gate.lock().unwrap_or_else(PoisonError::into_inner) {
                    fetched.fetch_add(1, Ordering::SeqCst);
                    Poll::Ready(Ok(3))
                } else {
                    Poll::Pending
                }
            })
        };
        let mut calls: Vec<_> = (0..5).map(|_| Box::pin(flights.run("uri", fetch))).collect();
        let mut cx = Context::from_waker(Waker::noop());
        for c in &mut calls {
            assert!(c.as_mut().poll(&mut cx).is_pending());
        }
        *gate.lock().unwrap_or_else(PoisonError::into_inner) = true;
        for c in &mut calls {
            assert_eq!(c.as_mut().poll(&mut cx), Poll::Ready(Ok(3)));
        }
        assert_eq!(fetched.load(Ordering::SeqCst), 1, "one fetch for five callers");
    }
}
