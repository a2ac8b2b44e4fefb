import FaceSearch
import Synchronization
import Testing

@testable import ExportPipeline

/// The prefetcher on its own: which starts it asks for, and how many pages it holds.
struct PagePrefetcherTests {
    /// The starts a prefetcher's calls asked for.
    final class Calls: Sendable {
        private let starts = Mutex<[Int]>([])
        func record(_ start: Int) { self.starts.withLock { $0.append(start) } }
        var sorted: [Int] { self.starts.withLock { $0.sorted() } }
    }

    /// A prefetcher whose calls answer at once with an empty page, recording their starts.
    private func prefetcher(
        pageSize: Int,
        expected: Int,
        width: Int
    ) -> (PagePrefetcher, Calls) {
        let fetched = Calls()
        let prefetcher = PagePrefetcher(
            pageSize: pageSize,
            expected: expected,
            allowance: PrefetchAllowance(width: width)
        ) { start in
            fetched.record(start)
            return FacePage(faces: [])
        }
        return (prefetcher, fetched)
    }

    @Test func itAsksForTheStartsTheWalkWillWantAndHoldsNoMoreThanTwiceItsWidth() {
        let fetched = Calls()
        let inFlight = Mutex((now: 0, most: 0))
        let prefetcher = PagePrefetcher(pageSize: 10, expected: 1000, allowance: PrefetchAllowance(width: 3)) {
            start in
            inFlight.withLock { $0 = (now: $0.now + 1, most: max($0.most, $0.now + 1)) }
            fetched.record(start)
            inFlight.withLock { $0.now -= 1 }
            return FacePage(faces: [])
        }
        // Served the page at 1 (positions 1–10), the walk next asks from 10, then 19, 28…: calls go on
        // as others answer, until six pages are held, however fast the API answers.
        prefetcher.advance(servedStart: 1)
        #expect(prefetcher.take(start: 10) != nil)
        prefetcher.close()
        let starts = fetched.sorted
        #expect(starts == Array(stride(from: 10, through: 10 + 9 * (starts.count - 1), by: 9)))
        #expect((3...7).contains(starts.count), "\(starts)")
        #expect(inFlight.withLock { $0.most } <= 3)
        // A start it never fetched is the walk's to fetch.
        #expect(prefetcher.take(start: 500) == nil)
    }

    @Test func theFirstPageIsFetchedWithTheOnesAfterIt() {
        let (prefetcher, fetched) = self.prefetcher(pageSize: 10, expected: 1000, width: 2)
        prefetcher.begin(at: 1)
        #expect(prefetcher.take(start: 1) != nil)
        prefetcher.close()
        let starts = fetched.sorted
        #expect(starts.starts(with: [1, 10]), "\(starts)")
        #expect(starts == Array(stride(from: 1, through: 1 + 9 * (starts.count - 1), by: 9)))
    }

    @Test func oneStartAbove1000IsAskedForBeforeTheServerHasServedOne() {
        let fetched = Calls()
        let probeAnswered = Mutex(false)
        let early = Mutex<[Int]>([])
        let prefetcher = PagePrefetcher(pageSize: 1000, expected: 9000, allowance: PrefetchAllowance(width: 3)) {
            start in
            fetched.record(start)
            if start > 1999 && !probeAnswered.withLock({ $0 }) { early.withLock { $0.append(start) } }
            if start == 1999 { probeAnswered.withLock { $0 = true } }
            return FacePage(faces: [])
        }
        prefetcher.begin(at: 1)
        // 1, 1000 and the probe 1999 go out together; 2998 and on wait for the probe's answer.
        #expect(prefetcher.take(start: 1) != nil)
        #expect(prefetcher.take(start: 1000) != nil)
        #expect(prefetcher.take(start: 1999) != nil)
        prefetcher.advance(servedStart: 1999)
        #expect(prefetcher.take(start: 2998) != nil)
        prefetcher.close()
        #expect(fetched.sorted.starts(with: [1, 1000, 1999, 2998]), "\(fetched.sorted)")
        #expect(early.withLock { $0 }.isEmpty)
    }

    @Test func aRefusedProbeEndsPrefetchingForTheLibrary() {
        let fetched = Calls()
        // A strict server: starts above 1000 are refused.
        let prefetcher = PagePrefetcher(pageSize: 1000, expected: 9000, allowance: PrefetchAllowance(width: 3)) {
            start in
            fetched.record(start)
            return start > 1000 ? nil : FacePage(faces: [])
        }
        prefetcher.begin(at: 1)
        #expect(prefetcher.take(start: 1999) == nil, "the walk makes the call itself and learns the cap")
        prefetcher.advance(servedStart: 1000)
        prefetcher.close()
        #expect(fetched.sorted == [1, 1000, 1999])
    }

    /// Pages held for walks that do not take them are bounded across the run, not per library, and
    /// every page is given back: a leak would starve later libraries of prefetching.
    @Test func theRunHoldsAtMostTwiceItsWidthAcrossLibrariesAndGivesEveryPageBack() {
        let allowance = PrefetchAllowance(width: 2)
        let fetched = Calls()
        let libraries = (0..<3).map { library in
            PagePrefetcher(pageSize: 10, expected: 1000, allowance: allowance) { start in
                fetched.record(library * 10_000 + start)
                return FacePage(faces: [])
            }
        }
        for library in libraries { library.begin(at: 1) }
        // No walk takes anything: once the calls have ended, four pages are held in all.
        #expect(libraries[0].take(start: 1) != nil)
        libraries[0].advance(servedStart: 1)
        for library in libraries { library.close() }
        #expect(fetched.sorted.count <= 5, "\(fetched.sorted)")
        #expect(allowance.inUse.calls == 0 && allowance.inUse.pages == 0, "\(allowance.inUse)")
        // Given back: a new library prefetches again.
        let later = PagePrefetcher(pageSize: 10, expected: 1000, allowance: allowance) { _ in FacePage(faces: []) }
        later.begin(at: 1)
        #expect(later.take(start: 1) != nil)
        later.close()
        #expect(allowance.inUse.pages == 0)
    }
}
