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

    private let steps: FileSteps

    init(sinks: [any RecordSink], ledger: RunLedger, stop: StopSignal, steps: FileSteps) {
        self.sinks = sinks
        self.steps = steps
        self.ledger = ledger
        self.stop = stop
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
                    try self.endRowGroupsTogether()
                }
                self.ledger.written(
                    batch.key,
                    rows: batch.records.count,
                    filtered: batch.filtered,
                    repaired: batch.repairedTokens
                )
                if batch.isLast {
                    for sink in self.sinks { try sink.groupFinished(batch.source) }
                }
                try self.journal(batch)
            } catch {
                self.failed = true
                self.stop.raise("cannot write the outputs: \(error)")
            }
        }
    }

    /// When a Parquet file has ended a full row group, ends the row group of every other file that
    /// builds them: all vouch for their rows at this page, which a resumed run can continue from
    /// (``JournalCut``). Otherwise a file per library would vouch for its rows only at its
    /// library's end, and a night's file only at its own row groups, never both at once.
    private func endRowGroupsTogether() throws(SinkError) {
        var filled = false
        for sink in self.sinks where sink.takeFilledRowGroup() { filled = true }
        guard filled else { return }
        for sink in self.sinks { try sink.endRowGroups() }
    }

    /// Checkpoints every sink's file for this library and journals how far the library got.
    private func journal(_ batch: RecordBatch) throws(SinkError) {
        guard let journal = self.journal else { return }
        var files: [FileCheckpoint?] = []
        for sink in self.sinks { files.append(try sink.checkpoint(batch.source, finished: batch.isLast)) }
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
