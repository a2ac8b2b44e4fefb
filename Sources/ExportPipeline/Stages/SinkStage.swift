import ExportSinks
import Foundation
import Logging

/// The last stage: writes every page to every sink, on one serial queue, and acknowledges it.
///
/// A page counts as exported only once every sink has taken it. If a sink fails, the run stops and
/// the stage keeps draining its input (so no walker waits forever) without writing.
final class SinkStage: @unchecked Sendable {
    // `sinks` and `failed` are touched only by the thread running `work`, then by `finish` after it returned.
    private let sinks: [any RecordSink]
    private let ledger: RunLedger
    private let stop: StopSignal
    private var failed = false
    /// Set before `work` starts, when the run keeps a journal.
    var journal: RunJournal?
    /// Set before `work` starts, when the journal is also kept elsewhere.
    var stateMirror: (any RunStateMirror)?
    /// The last line journaled for each library whose walk goes on, for a store point to journal
    /// again with checkpoints that vouch for its files.
    private var inProgress: [GroupKey: (source: RecordSource, progress: JournalEntry.LibraryProgress)] = [:]

    private let steps: FileSteps
    private var storePoints: StorePoints

    /// When a store point may be made: `interval` seconds after the start, and after the last.
    struct StorePoints {
        let clock: any PipelineClock
        let interval: Double
        var last: Double

        init(clock: any PipelineClock, interval: Double) {
            self.clock = clock
            self.interval = interval
            self.last = clock.now()
        }

        /// Whether one is due now; if so, counts it as made.
        mutating func take() -> Bool {
            let now = self.clock.now()
            guard now - self.last >= self.interval else { return false }
            self.last = now
            return true
        }
    }

    init(
        sinks: [any RecordSink],
        ledger: RunLedger,
        stop: StopSignal,
        steps: FileSteps,
        storePoints: StorePoints
    ) {
        self.sinks = sinks
        self.steps = steps
        self.ledger = ledger
        self.stop = stop
        self.storePoints = storePoints
    }

    /// Reopens the files an interrupted run left.
    func resume(_ state: ResumeState) throws(SinkError) {
        for (sink, checkpoints) in zip(self.sinks, state.files) { try sink.resume(checkpoints) }
    }

    @available(*, noasync)
    func work(input: BoundedQueue<RecordBatch>) {
        while let batch = input.pop() {
            guard !self.failed else { continue }
            do throws(SinkError) {
                if !batch.records.isEmpty {
                    for sink in self.sinks { try sink.write(batch.records, from: batch.source) }
                }
                let storing = try self.storePoint()
                self.ledger.written(
                    batch.key,
                    rows: batch.records.count,
                    filtered: batch.filtered,
                    repaired: batch.repairedTokens
                )
                if batch.isLast {
                    for sink in self.sinks { try sink.groupFinished(batch.source) }
                }
                try self.journal(batch, storing: storing)
                if storing { try self.journalLibrariesInProgress(besides: batch.key) }
                try self.stateMirror?.store(force: storing)
            } catch {
                self.failed = true
                self.stop.raise("cannot write the outputs: \(error)")
            }
        }
    }

    /// Whether this page is a store point, where every file vouches for its rows, which a resumed
    /// run can continue from (``JournalCut``): when a Parquet file has ended a full row group, or
    /// an upload has sent a part (its own tail is small then), and the last store point is
    /// ``ExportConfiguration/storePointInterval`` ago. Every file that builds row groups ends its
    /// own (at every full row group, as before: local files then vouch for their rows), every
    /// upload stores its tail, and every library under way is journaled again. Otherwise a file
    /// per library would vouch for its rows only at its library's end, and a night's file only at
    /// its own row groups or parts, never both at once.
    private func storePoint() throws(SinkError) -> Bool {
        var filled = false
        for sink in self.sinks where sink.takeFilledRowGroup() { filled = true }
        var sent = false
        for sink in self.sinks where sink.takeSentPart() { sent = true }
        // Storing tails costs up to a part per upload: not more often than the interval allows.
        // Uploads are continued only by a run that keeps a journal.
        let storing = (filled || sent) && self.journal != nil && self.storePoints.take()
        if filled || storing {
            for sink in self.sinks { try sink.endRowGroups() }
        }
        return storing
    }

    /// Journals each library under way but `current` again, as its last line left it, with
    /// checkpoints made now, which vouch for its files (its rows are all in them).
    private func journalLibrariesInProgress(besides current: GroupKey) throws(SinkError) {
        guard let journal = self.journal else { return }
        for key in self.inProgress.keys.sorted(by: { $0.index < $1.index }) where key != current {
            guard let (source, last) = self.inProgress[key] else { continue }
            var progress = last
            var files: [FileCheckpoint?] = []
            for sink in self.sinks { files.append(try sink.checkpoint(source, finished: false, storing: true)) }
            progress.files = files
            self.inProgress[key] = (source, progress)
            try journal.append(.page(progress))
        }
    }

    /// Checkpoints every sink's file for this library (`storing` uploads' tails) and journals how
    /// far the library got.
    private func journal(_ batch: RecordBatch, storing: Bool) throws(SinkError) {
        guard let journal = self.journal else { return }
        var files: [FileCheckpoint?] = []
        for sink in self.sinks {
            files.append(try sink.checkpoint(batch.source, finished: batch.isLast, storing: storing))
        }
        let counts = self.ledger.counts(batch.key)
        let progress = JournalEntry.LibraryProgress(
            account: batch.source.account,
            groupID: batch.source.groupID,
            position: batch.position,
            result: batch.result,
            written: counts.written,
            filtered: counts.filtered,
            requests: counts.requests,
            retries: counts.retries,
            files: files,
            repaired: counts.repaired.count == 0 ? nil : counts.repaired.count,
            repairedTokens: counts.repaired.tokens.isEmpty ? nil : counts.repaired.tokens
        )
        try journal.append(batch.isLast ? .end(progress) : .page(progress))
        self.inProgress[batch.key] = batch.isLast ? nil : (batch.source, progress)
    }

    /// Prepares every sink's files for the commit (one list per sink), or discards them all when
    /// `context` is nil or one cannot be prepared.
    func finish(commit context: CommitContext?) -> Result<[[PreparedFile]], SinkError> {
        guard let context, !self.failed else {
            for sink in self.sinks { sink.discard() }
            return .success([])
        }
        var summaries: [[PreparedFile]] = []
        for (index, sink) in self.sinks.enumerated() {
            do throws(SinkError) {
                summaries.append(try sink.prepareCommit(context))
            } catch {
                for file in summaries.joined() { file.discard(steps: self.steps) }
                for later in self.sinks[(index + 1)...] { later.discard() }
                return .failure(error)
            }
        }
        return .success(summaries)
    }
}
