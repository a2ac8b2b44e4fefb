#if canImport(Glibc)
import Glibc
#endif

/// One file of an output: NDJSON, CSV or SQLite.
protocol FileWriter: AnyObject {
    func write(_ records: RecordRows) throws(SinkError)
    /// Makes what was written so far durable against a crash of this process; returns how far the
    /// file is (size, rows and what proves it), for the run's journal; the partition is the caller's.
    /// `storing`: an upload stores its tail, so that the checkpoint vouches for every row.
    func checkpoint(storing: Bool) throws(SinkError) -> FileCheckpoint
    /// No more records come: sync the file (it is renamed at commit).
    func finish() throws(SinkError)
    /// Finishes the file (and any file that goes with it) under its temporary name; the faces file first.
    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile]
    func discard()
    /// Whether the file ended a row group because it was full since the last call (Parquet).
    func takeFilledRowGroup() -> Bool
    /// Ends the row group being built, if the file builds them (Parquet).
    func endRowGroup() throws(SinkError)
    /// Whether the file sent a part to object storage since the last call.
    func takeSentPart() -> Bool
}

extension FileWriter {
    func takeFilledRowGroup() -> Bool { false }
    func endRowGroup() throws(SinkError) {}
    func takeSentPart() -> Bool { false }
}

/// One configured output of a pipeline: a format and a path template, written as one file, or as
/// one file per account or per library when the template says `{account}` or `{group}`.
///
/// ```swift
/// var configuration = OutputSink.Configuration(format: .csv, path: try OutputPathTemplate("out/dt={date}/faces.csv.gz"))
/// let sink = OutputSink(configuration: configuration, run: .init(date: "2026-11-26", runID: id, pipeline: "nightly"))
/// ```
public final class OutputSink: RecordSink {
    /// The file formats.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// Newline-delimited JSON (gzip with `.gz`).
        case ndjson
        /// RFC 4180 CSV (gzip with `.gz`).
        case csv
        /// A SQLite database with `faces`, `groups` and `runs` tables.
        case sqlite
        /// Parquet: typed columns, zstd-compressed pages, statistics, page index, bloom filters.
        case parquet
    }

    /// How a SQLite output treats the file a previous run left.
    public enum SQLiteMode: String, Sendable, Hashable, CaseIterable {
        /// The file holds this run's snapshot.
        case replace
        /// Upsert into the previous file, tracking first and last sightings and deletions.
        case merge
    }

    /// How thoroughly a SQLite output is checked before it is committed.
    public enum SQLiteCheck: String, Sendable, Hashable, CaseIterable {
        /// `PRAGMA quick_check`: every page, record and constraint, in time linear in the file's size.
        case quick
        /// `PRAGMA integrity_check`: also that every index entry matches its row; on 1M faces it costs
        /// about as much as loading them.
        case full
    }

    /// How the output is written.
    public struct Configuration: Sendable {
        /// The format.
        public var format: Format
        /// Where the files go.
        public var path: OutputPathTemplate
        /// The engine and level for `.gz` paths. Default ISA-L level 2.
        public var compression = GzipCompression.standard
        /// CSV only: prefix cells starting with `=`, `+`, `-`, `@`, tab or CR with `'`. Default false.
        public var escapeFormulas = false
        /// SQLite only. Default `replace`.
        public var sqliteMode = SQLiteMode.replace
        /// SQLite only: the check that must say `ok` before the file is committed. Default `quick`.
        public var sqliteCheck = SQLiteCheck.quick
        /// SQLite in `merge` mode only: a file for the faces this run added, removed or modified since
        /// the file's previous run. Default none.
        public var changesPath: OutputPathTemplate?
        /// Parquet only: how pages are compressed. Default zstd level 1 (level 3 costs a fifth more CPU
        /// for files 3% smaller).
        public var parquetCodec = ParquetCodec.zstd(level: 1)
        /// Parquet only: bytes a row group holds (compressed pages, dictionaries) before the next
        /// begins. The writer holds about twice that while it makes the row group (the pages, a
        /// page per column being filled, the bloom filters' hashes): 12 MiB keeps an export of 4M
        /// faces under 90 MB. Default 12 MiB.
        public var rowGroupBytes = 12 << 20
        /// Parquet only: whether `face_token` and `user_id` get bloom filters, so that a lookup of
        /// one face reads a few row groups instead of every one. Default true; they add about 10
        /// bits per face.
        public var parquetBloomFilters = true
        /// Parquet only: entries of the file's `key_value_metadata` besides the run id and the
        /// pipeline (the exporter's version, the transform's digest). Default none.
        public var keyValueMetadata: [String: String] = [:]
        /// Files streamed to object storage (`s3://` paths): bytes a part of the upload holds
        /// before the next begins (S3 wants 5 MiB at least, but for the last). Default 16 MiB.
        public var partSize = ObjectUpload.defaultPartSize
        /// Files streamed to object storage: parts of one upload sent at once, on threads of their
        /// own (each holds its bytes until it has arrived); 1 sends each part from the writer's
        /// thread before it goes on. Default 1.
        public var partsInFlight = 1
        /// Files streamed to object storage: the folder (`s3://bucket/prefix/`, this run's own)
        /// where an upload keeps the bytes waiting for their part at a checkpoint that stores them,
        /// so that a resumed run continues the upload. Default none: uploads are sent again.
        public var tailFolder: String?
        /// Permissions of created files. Default 0600: exports hold personal data.
        public var fileMode: UInt32 = 0o600
        /// The file operations, as steps a crash test can stop at. Default: carried out directly.
        public var steps = FileSteps.direct

        /// Creates a configuration with the defaults.
        public init(format: Format, path: OutputPathTemplate) {
            self.format = format
            self.path = path
        }
    }

    /// The columns a Parquet output of `schema` has: types, logical types, bloom filters.
    public static func parquetColumns(_ schema: RecordSchema, bloomFilters: Bool = true) -> [ParquetColumn] {
        ParquetOutputWriter.columns(schema, bloomFilters: bloomFilters)
    }

    /// Columns a SQLite output's `faces` table keeps after the export's own, to track sightings and
    /// changes: a transform may not name a column so.
    public static let sqliteBookkeepingColumns = SQLiteWriter.bookkeepingColumns

    private struct PartitionKey: Hashable {
        var account: String?
        var group: String?
    }

    private let configuration: Configuration
    private let run: OutputPathTemplate.RunValues
    private let schema: RecordSchema
    private var open: [PartitionKey: any FileWriter] = [:]
    private var finished: [(key: PartitionKey, writer: any FileWriter)] = []

    /// Prepares the output for records of `schema`; files are created as records arrive (or at
    /// commit, for an empty run).
    public init(configuration: Configuration, run: OutputPathTemplate.RunValues, schema: RecordSchema = .standard) {
        self.configuration = configuration
        self.run = run
        self.schema = schema
    }

    public func write(_ records: RecordRows, from source: RecordSource) throws(SinkError) {
        try self.writer(for: source).write(records)
    }

    public func groupFinished(_ source: RecordSource) throws(SinkError) {
        guard self.configuration.path.isPerGroup, let writer = self.open[self.key(for: source)] else { return }
        try writer.finish()
        self.open[self.key(for: source)] = nil
        self.finished.append((self.key(for: source), writer))
    }

    public func checkpoint(_ source: RecordSource, finished: Bool, storing: Bool) throws(SinkError) -> FileCheckpoint? {
        let key = self.key(for: source)
        let done = finished ? self.finished.last(where: { $0.key == key })?.writer : nil
        guard let writer = self.open[key] ?? done else { return nil }
        var checkpoint = try writer.checkpoint(storing: storing)
        checkpoint.account = key.account
        checkpoint.group = key.group
        checkpoint.finished = finished && key.group != nil
        return checkpoint
    }

    public func takeFilledRowGroup() -> Bool {
        var filled = false
        for writer in self.open.values where writer.takeFilledRowGroup() { filled = true }
        return filled
    }

    public func takeSentPart() -> Bool {
        var sent = false
        for writer in self.open.values where writer.takeSentPart() { sent = true }
        return sent
    }

    public func endRowGroups() throws(SinkError) {
        for writer in self.open.values { try writer.endRowGroup() }
    }

    public func resume(_ checkpoints: [FileCheckpoint]) throws(SinkError) {
        for checkpoint in checkpoints {
            let key = PartitionKey(account: checkpoint.account, group: checkpoint.group)
            let writer = try self.makeWriter(for: key, resume: checkpoint)
            if checkpoint.finished {
                try writer.finish()
                self.finished.append((key, writer))
            } else {
                self.open[key] = writer
            }
        }
    }

    public func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile] {
        if self.open.isEmpty && self.finished.isEmpty && !self.configuration.path.isPerGroup
            && !self.configuration.path.isPerAccount
        {
            // A run without faces still leaves its (empty) file, so readers find today's partition.
            _ = try self.writer(for: RecordSource(account: "", groupID: ""))
        }
        let writers =
            self.finished.map(\.writer)
            + self.open.sorted {
                ($0.key.account ?? "", $0.key.group ?? "") < ($1.key.account ?? "", $1.key.group ?? "")
            }.map(\.value)
        let partitions =
            self.finished.map(\.key)
            + self.open.keys.sorted { ($0.account ?? "", $0.group ?? "") < ($1.account ?? "", $1.group ?? "") }
        var summaries: [PreparedFile] = []
        for (index, writer) in writers.enumerated() {
            do throws(SinkError) {
                var files = try writer.prepareCommit(context)
                if !files.isEmpty {
                    files[0].partition = .init(account: partitions[index].account, group: partitions[index].group)
                }
                summaries.append(contentsOf: files)
            } catch {
                // Nothing of the output stays behind: the files prepared so far, the one that failed
                // (a disk that filled during a commit left a SQLite file and its WAL) and the rest.
                for file in summaries { file.discard(steps: self.configuration.steps) }
                for writer in writers[index...] { writer.discard() }
                throw error
            }
        }
        self.open = [:]
        self.finished = []
        return summaries
    }

    /// Prepares every file and puts it in place at once (renamed, or its upload completed): for a
    /// sink used on its own.
    public func commit(_ context: CommitContext) throws(SinkError) -> [SinkSummary] {
        let prepared = try self.prepareCommit(context)
        for file in prepared { try file.install(steps: self.configuration.steps) }
        return prepared.map(\.summary)
    }

    public func discard() {
        for (_, writer) in self.finished { writer.discard() }
        for writer in self.open.values { writer.discard() }
        self.open = [:]
        self.finished = []
    }

    private func key(for source: RecordSource) -> PartitionKey {
        PartitionKey(
            account: self.configuration.path.isPerAccount ? source.account : nil,
            group: self.configuration.path.isPerGroup ? source.groupID : nil
        )
    }

    private func writer(for source: RecordSource) throws(SinkError) -> any FileWriter {
        let key = self.key(for: source)
        if let writer = self.open[key] { return writer }
        let writer = try self.makeWriter(for: key, resume: nil)
        self.open[key] = writer
        return writer
    }

    private func makeWriter(for key: PartitionKey, resume: FileCheckpoint?) throws(SinkError) -> any FileWriter {
        let path = self.configuration.path.resolve(self.run, account: key.account, group: key.group)
        let writer: any FileWriter
        switch self.configuration.format {
        case .ndjson:
            writer = try TextFileWriter(
                path: path,
                format: .ndjson,
                encoder: NDJSONEncoder(schema: self.schema),
                runID: self.run.runID,
                compression: self.configuration.compression,
                mode: self.configuration.fileMode,
                resume: resume,
                uploads: self.configuration.uploadOptions,
                steps: self.configuration.steps
            )
        case .csv:
            writer = try TextFileWriter(
                path: path,
                format: .csv,
                encoder: CSVEncoder(schema: self.schema, escapeFormulas: self.configuration.escapeFormulas),
                runID: self.run.runID,
                compression: self.configuration.compression,
                mode: self.configuration.fileMode,
                resume: resume,
                uploads: self.configuration.uploadOptions,
                steps: self.configuration.steps
            )
        case .parquet:
            writer = try ParquetOutputWriter(
                path: path,
                schema: self.schema,
                run: self.run,
                configuration: self.configuration,
                resume: resume
            )
        case .sqlite:
            guard ObjectLocation(path: path) == nil else {
                throw .storage(
                    "cannot write \(path): a SQLite output is a database on disk, not a stream; "
                        + "give it a local path"
                )
            }
            writer = try SQLiteWriter(
                path: path,
                schema: self.schema,
                runID: self.run.runID,
                merge: self.configuration.sqliteMode == .merge,
                check: self.configuration.sqliteCheck,
                mode: self.configuration.fileMode,
                changesPath: self.configuration.changesPath?.resolve(self.run, account: nil, group: nil),
                resume: resume,
                steps: self.configuration.steps
            )
        }
        return writer
    }
}
