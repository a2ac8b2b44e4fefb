import ExportSinks
import FaceSearch
import Logging

/// The second stage: walks libraries page by page, `concurrency` at a time, with retries.
///
/// Each worker takes the next library, drives a ``GroupWalkStateMachine`` with the answers of its
/// calls, and pushes each page's new faces downstream; a full downstream queue makes it wait.
struct PageWalker: Sendable {
    let pageSize: Int
    let onChanged: ChangedLibraryPolicy
    let ledger: RunLedger
    let retrier: CallRetrier
    let stop: StopSignal
    let logger: Logger
    /// Prefetch calls the run may have in flight for large libraries (see ``PagePrefetcher``).
    let prefetch: PrefetchAllowance

    /// One worker's loop: walk libraries from `input` until it is drained.
    @available(*, noasync)
    func work(input: BoundedQueue<GroupTask>, output: BoundedQueue<FaceBatch>) {
        while let task = input.pop() {
            // After a stop the remaining libraries are left unwalked; the ledger reports them.
            guard !self.stop.isRaised else { continue }
            self.walk(task, output: output)
        }
    }

    @available(*, noasync)
    private func walk(_ task: GroupTask, output: BoundedQueue<FaceBatch>) {
        var logger = self.logger
        logger[metadataKey: "group"] = "\(task.groupID)"
        var machine =
            task.resumeFrom.map {
                GroupWalkStateMachine(pageSize: self.pageSize, onChanged: self.onChanged, resumingFrom: $0)
            } ?? GroupWalkStateMachine(pageSize: self.pageSize, onChanged: self.onChanged)
        var action = machine.start()
        let count: @Sendable (Bool) -> Void = { self.ledger.requestMade(task.key, retry: $0) }
        var prefetcher: PagePrefetcher?
        defer { prefetcher?.close() }
        while true {
            switch action {
            case .fetchSize where task.account.sizeCall.isUnavailable:
                action = machine.sizeUnavailable()
            case .fetchSize, .confirmSize:
                let confirming = action == .confirmSize
                switch self.retrier.sparingUnavailableCalls.perform(
                    { () throws(FaceSearchError) in try task.account.client.groupSize(groupID: task.groupID) },
                    account: task.account,
                    counted: count
                ) {
                case .success(let size):
                    action = confirming ? machine.confirmedSizeReceived(size) : machine.sizeReceived(size)
                case .failure(let error) where error.isCallUnavailable && !confirming:
                    // Walked to the end anyway: `list` says whether the key may read the library at all.
                    task.account.sizeCall.unavailable(error, logger: logger)
                    action = machine.sizeUnavailable()
                case .failure(let error): action = machine.callFailed(error)
                case .stopped: return
                }
            case .fetchPage(let start):
                // A library of more than two pages (its size from `get_size` or the journal) gets a prefetcher.
                if prefetcher == nil, let expected = machine.expected, expected > 2 * self.pageSize,
                    self.prefetch.width > 0
                {
                    prefetcher = self.makePrefetcher(task, expected: expected, count: count)
                    prefetcher?.begin(at: start)
                }
                if let page = prefetcher?.take(start: start) {
                    prefetcher?.advance(servedStart: start)
                    action = machine.pageReceived(page)
                    continue
                }
                switch self.retrier.perform(self.listCall(task, start: start), account: task.account, counted: count) {
                case .success(let page):
                    prefetcher?.advance(servedStart: start)
                    action = machine.pageReceived(page)
                case .failure(let error): action = machine.callFailed(error)
                case .stopped: return
                }
            case .emitAndFetch(let faces, let start):
                guard self.emit(faces, task: task, position: machine.position, result: nil, output: output) else {
                    return
                }
                action = .fetchPage(start: start)
            case .emitAndConfirmSize(let faces):
                guard self.emit(faces, task: task, position: machine.position, result: nil, output: output) else {
                    return
                }
                action = .confirmSize
            case .emitAndFinish(let faces, let result):
                // The last page and the end in one batch: the journal never holds the one without the other.
                self.finish(task, result, logger: logger)
                _ = self.emit(faces, task: task, position: nil, result: result, output: output)
                return
            case .finish(let result):
                self.finish(task, result, logger: logger)
                guard self.emit(FacePage(faces: []), task: task, position: nil, result: result, output: output) else {
                    return
                }
                return
            }
        }
    }

    private func listCall(_ task: GroupTask, start: Int) -> () throws(FaceSearchError) -> FacePage {
        let limit = self.pageSize
        return { () throws(FaceSearchError) in
            try task.account.client.listFaces(groupID: task.groupID, start: start, limit: limit)
        }
    }

    private func makePrefetcher(
        _ task: GroupTask,
        expected: Int,
        count: @escaping @Sendable (Bool) -> Void
    ) -> PagePrefetcher {
        PagePrefetcher(pageSize: self.pageSize, expected: expected, allowance: self.prefetch) { start in
            // A failed prefetch is only a missed shortcut: the walk makes the call itself.
            if case .success(let page) = self.retrier.once.perform(
                self.listCall(task, start: start),
                account: task.account,
                counted: count
            ) {
                return page
            }
            return nil
        }
    }

    /// Hands a page on; the last batch of a library (with its `result`) goes even when empty.
    private func emit(
        _ faces: FacePage,
        task: GroupTask,
        position: WalkPosition?,
        result: GroupWalkResult?,
        output: BoundedQueue<FaceBatch>
    ) -> Bool {
        guard !faces.isEmpty || result != nil else { return true }
        let source = RecordSource(account: task.account.name, groupID: task.groupID)
        let batch = FaceBatch(
            key: task.key,
            source: source,
            faces: faces,
            isLast: result != nil,
            position: position,
            result: result
        )
        return output.push(batch)
    }

    private func finish(_ task: GroupTask, _ result: GroupWalkResult, logger: Logger) {
        self.ledger.walkFinished(task.key, result)
        if result.status == .complete || result.status == .unverified {  // unverified is said once per account
            logger.debug("library walked", metadata: ["faces": "\(result.exported)", "pages": "\(result.pages)"])
        } else {
            logger.warning(
                "library not exported completely",
                metadata: [
                    "status": "\(result.status.rawValue)",
                    "expected": "\(result.expected.map(String.init) ?? "unknown")",
                    "exported": "\(result.exported)", "error": "\(result.error ?? "")",
                ]
            )
        }
    }
}
