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

    @Test func itAsksForTheStartsTheWalkWillWantAndHoldsNoMoreThanItsWidth() {
        let (prefetcher, fetched) = self.prefetcher(pageSize: 10, expected: 1000, width: 3)
        // Served the page at 1 (positions 1–10), the walk next asks from 10, then 19, 28…
        prefetcher.advance(servedStart: 1)
        #expect(prefetcher.take(start: 10) != nil)
        // 19 and 28 are still held: one more start fits, however fast the API answers.
        prefetcher.advance(servedStart: 10)
        prefetcher.close()
        #expect(fetched.sorted == [10, 19, 28, 37])
        // A start it never fetched is the walk's to fetch.
        #expect(prefetcher.take(start: 500) == nil)
    }

    @Test func startsAbove1000WaitUntilTheServerHasAnsweredOne() {
        let (prefetcher, fetched) = self.prefetcher(pageSize: 1000, expected: 5000, width: 3)
        prefetcher.advance(servedStart: 1)
        #expect(prefetcher.take(start: 1000) != nil)
        #expect(fetched.sorted == [1000], "1999 could be refused by a strict server")
        prefetcher.advance(servedStart: 1000)
        #expect(fetched.sorted == [1000])
        // The walk itself was served 1999: the server is lax.
        prefetcher.advance(servedStart: 1999)
        prefetcher.close()
        #expect(fetched.sorted == [1000, 2998, 3997, 4996])
    }
}
