import Dispatch
import FaceSearch
import Synchronization

/// Fetches the pages a library's walk will probably ask for next, several at once, so a large
/// library is not walked one round trip at a time.
///
/// The walk's ``GroupWalkStateMachine`` stays the only authority: a prefetched page is used only
/// when the machine asks for exactly its `start`, and the machine checks every page against the one
/// before (the one-position overlap) as it would a page it fetched itself, stepping back when the
/// library's edits made a prefetched page start too late. So a prefetched page can at worst cost a
/// call, never a face. Of the starts above 1000 (a strict server refuses them; the machine handles
/// that on its own) one probes the server with the first pages, and the others wait until a server
/// has served one. A prefetch call is made once, without retries, and the first that fails ends
/// prefetching for the library: an API that is throttling or failing gets at most one more call than
/// a walk one page at a time would make (the probe a strict server refuses, once per large library).
///
/// The run shares one ``PrefetchAllowance``: at most that many prefetch calls are in flight across
/// all libraries, each holding a Dispatch thread while it waits.
final class PagePrefetcher: Sendable {
    private enum Slot {
        case inFlight
        /// The answer, nil if the call failed (the walk then makes it itself).
        case done(FacePage?)
    }

    private struct State {
        /// Pages requested, by start.
        var pages: [Int: Slot] = [:]
        var inFlight = 0
        /// The start after which pages are fetched: the last one the walk was served.
        var after: Int?
        var provenLax = false
        /// A start above 1000 was asked for before the server had served one: the probe of whether it does.
        var probing = false
        var closed = false
        /// A prefetch failed: the API is refusing or failing, so the walk goes on one page at a time.
        var failed = false
    }

    private let pageSize: Int
    private let expected: Int
    private let allowance: PrefetchAllowance
    private let fetch: @Sendable (Int) -> FacePage?
    private let state = Mutex(State())
    private let changed = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - expected: the library's size from `get_size`; no start beyond it is prefetched.
    ///   - fetch: one call for the page at a start, made once (no retries); nil on failure.
    init(pageSize: Int, expected: Int, allowance: PrefetchAllowance, fetch: @escaping @Sendable (Int) -> FacePage?) {
        self.pageSize = pageSize
        self.expected = expected
        self.allowance = allowance
        self.fetch = fetch
    }

    /// The page at `start` if it was prefetched (waiting for it if it is still on its way), else nil.
    func take(start: Int) -> FacePage? {
        while true {
            let found: FacePage?? = self.state.withLock { state in
                switch state.pages[start] {
                case nil: return .some(nil)
                case .inFlight: return nil
                case .done(let page):
                    state.pages[start] = nil
                    self.allowance.release()
                    // Served: a call that answers meanwhile must not fetch it again.
                    state.after = max(state.after ?? start, start)
                    return .some(page)
                }
            }
            if let found { return found }
            self.changed.wait()
        }
    }

    /// The walk is about to ask for its first page at `start`: fetch it together with the ones after.
    func begin(at start: Int) {
        let starts = self.state.withLock { state in
            state.after = start - self.step
            return self.schedule(&state)
        }
        self.launch(starts)
    }

    /// The machine was served the page at `start` (fetched or prefetched): drop older pages and
    /// prefetch the starts the walk will probably ask for next, as far as the allowance lets.
    func advance(servedStart start: Int) {
        let starts = self.state.withLock { state in
            if start > 1000 { state.provenLax = true }
            state.after = start
            let held = state.pages.count
            state.pages = state.pages.filter {
                if case .inFlight = $0.value { return true }
                return $0.key > start
            }
            self.allowance.release(held - state.pages.count)
            return self.schedule(&state)
        }
        self.launch(starts)
    }

    /// How far apart the starts of consecutive pages are: one face of overlap.
    private var step: Int { max(1, self.pageSize - 1) }

    /// Marks the next starts in flight, as far as the window and the allowance let; returns them.
    private func schedule(_ state: inout State) -> [Int] {
        guard !state.failed, !state.closed, let after = state.after else { return [] }
        var starts: [Int] = []
        var next = after + self.step
        while next <= self.expected {
            // One start above 1000 goes out with the first pages: a lax server's answer opens the rest a
            // round trip sooner; a strict server refuses it, which ends prefetching for the library (a
            // strict server serves no page beyond it to fetch ahead anyway).
            let probe = next > 1000 && !state.provenLax
            if probe && state.probing { break }
            if state.pages[next] == nil {
                guard self.allowance.take() else { break }
                if probe { state.probing = true }
                state.pages[next] = .inFlight
                state.inFlight += 1
                starts.append(next)
            }
            next += self.step
        }
        return starts
    }

    private func launch(_ starts: [Int]) {
        for start in starts {
            // A serial queue per call gets a thread at once; blocking calls on one concurrent queue wait
            // for libdispatch to grow its pool, about one thread a second.
            DispatchQueue(label: "faceexport.prefetch").async {
                let page = self.fetch(start)
                self.allowance.callEnded()
                let more = self.state.withLock { state in
                    state.inFlight -= 1
                    // A page the walk has gone past is of no more use.
                    if !state.closed && start > state.after ?? start - 1 {
                        state.pages[start] = .done(page)
                    } else {
                        state.pages[start] = nil
                        self.allowance.release()
                    }
                    if page == nil { state.failed = true }
                    if page != nil && start > 1000 { state.provenLax = true }
                    return self.schedule(&state)
                }
                self.changed.signal()
                self.launch(more)
            }
        }
    }

    /// Waits for the calls in flight; the walk is over.
    func close() {
        while true {
            let busy = self.state.withLock { state in
                state.closed = true
                // Pages held are given back now, pages in flight as their calls end.
                self.allowance.release(state.pages.values.count { if case .done = $0 { true } else { false } })
                state.pages = [:]
                return state.inFlight > 0
            }
            guard busy else { return }
            self.changed.wait()
        }
    }
}

/// How much a run may prefetch, across its libraries: `width` calls in flight at once, and twice as
/// many pages held or on their way, so a call that answers while a walk is still busy with an earlier
/// page is followed by the next at once, and memory stays flat when the sinks are slower than the API.
final class PrefetchAllowance: Sendable {
    let width: Int
    private let counts = Mutex((calls: 0, pages: 0))

    init(width: Int) { self.width = width }

    /// Takes one call and the page it brings, if the run has room for both.
    func take() -> Bool {
        self.counts.withLock { counts in
            guard counts.calls < self.width && counts.pages < 2 * self.width else { return false }
            counts.calls += 1
            counts.pages += 1
            return true
        }
    }

    /// A call ended; its page is held until ``release(_:)``.
    func callEnded() { self.counts.withLock { $0.calls -= 1 } }

    /// Pages handed to the walk or dropped.
    func release(_ pages: Int = 1) { self.counts.withLock { $0.pages -= pages } }

    /// Calls in flight and pages held or on their way: what tests check.
    var inUse: (calls: Int, pages: Int) { self.counts.withLock { $0 } }
}
