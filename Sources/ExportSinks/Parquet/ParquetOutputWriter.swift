#if canImport(Glibc)
import Glibc
#endif

/// One Parquet output file, written row group by row group under its temporary name.
///
/// Records go straight into the row group being built; once it holds
/// ``OutputSink/Configuration/rowGroupBytes`` after a page, it is written to the file, and only
/// then are its rows in the file: a checkpoint between row groups says so (`pending`), and a
/// resumed run continues from the last one written, whose checkpoint carries the row groups'
/// metadata for the footer. Row groups end only between pages, so a checkpoint is always at a
/// page's end. ``finish()`` writes the last row group, the page index and the footer.
final class ParquetOutputWriter: FileWriter {
    private let file: any OutputFile
    private let writer: ParquetFileWriter
    private let kinds: [Kind]
    private let rowGroupBytes: Int
    /// Row groups whose metadata a checkpoint has carried.
    private var journaledRowGroups: Int
    /// The file's state after its last row group: what a checkpoint vouches for.
    private var lastRowGroupEnd: (bytes: Int, sha256: String)
    private var finished = false
    /// A row group ended because it was full, since ``takeFilledRowGroup()`` last said so.
    private var filledRowGroup = false

    init(
        path: String,
        schema: RecordSchema,
        run: OutputPathTemplate.RunValues,
        configuration: OutputSink.Configuration,
        resume: FileCheckpoint?
    ) throws(SinkError) {
        var rowGroups: [ParquetRowGroupMetadata] = []
        for record in resume?.parquetRowGroups ?? [] {
            guard let group = ParquetRowGroupRecord.decode(record) else {
                throw .damaged(
                    "the journal of \(path)",
                    "describes a row group this version cannot read",
                    advice: "run again without --resume"
                )
            }
            guard group.columns.count == schema.columns.count else {
                throw .damaged(
                    "the journal of \(path)",
                    "describes a row group of \(group.columns.count) columns, not the \(schema.columns.count) of this pipeline",
                    advice: "run again without --resume"
                )
            }
            rowGroups.append(group)
        }
        if let resume, resume.rows != rowGroups.reduce(0, { $0 + Int($1.rows) }) {
            throw .damaged(
                "the journal of \(path)",
                "does not describe the \(resume.rows) rows its checkpoint vouches for",
                advice: "run again without --resume"
            )
        }
        let file = try makeOutputFile(
            path: path,
            runID: run.runID,
            mode: configuration.fileMode,
            resume: resume,
            uploads: configuration.uploadOptions,
            steps: configuration.steps
        )
        self.file = file
        self.writer = try ParquetFileWriter(
            columns: Self.columns(schema, bloomFilters: configuration.parquetBloomFilters),
            codec: configuration.parquetCodec,
            keyValueMetadata: [("faceexport.run_id", run.runID), ("faceexport.pipeline", run.pipeline)]
                + configuration.keyValueMetadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            createdBy: "faceexport",
            continuing: rowGroups,
            at: Int64(file.bytesWritten),
            output: { (bytes) throws(SinkError) in try file.write(bytes) }
        )
        self.kinds = Self.kinds(schema)
        self.rowGroupBytes = configuration.rowGroupBytes
        self.journaledRowGroups = rowGroups.count
        self.lastRowGroupEnd = (file.bytesWritten, file.sha256SoFar)
        // An upload finished before the interruption (its footer sent) needs nothing more; a
        // local file was cut back to its last row group, and gets its footer again.
        if resume?.finished == true && !file.canBeCutBack {
            try file.finish()
            self.finished = true
        }
    }

    func write(_ records: RecordRows) throws(SinkError) {
        let writer = self.writer
        let kinds = self.kinds
        try records.withReader { (rows) throws(SinkError) in
            for row in 0..<rows.count {
                for column in 0..<rows.width {
                    let cell = rows.cell(row: row, column: column)
                    switch (kinds[column], cell) {
                    case (_, .integer(let number)): try writer.append(number, column: column)
                    case (.date, _): try writer.append(Self.days(rows.bytes(of: cell)), column: column)
                    default: try writer.append(rows.bytes(of: cell), column: column)
                    }
                }
                writer.endRow()
            }
        }
        if writer.pendingBytes >= self.rowGroupBytes {
            try self.finishRowGroup()
            self.filledRowGroup = true
        }
    }

    func takeFilledRowGroup() -> Bool {
        defer { self.filledRowGroup = false }
        return self.filledRowGroup
    }

    func endRowGroup() throws(SinkError) {
        guard !self.finished else { return }
        try self.finishRowGroup()
    }

    func takeSentPart() -> Bool { self.file.takeSentPart() }

    func checkpoint(storing: Bool) throws(SinkError) -> FileCheckpoint {
        if storing && self.writer.pendingRows == 0 { try self.file.storeTail() }
        // Only whole row groups count, and only in a file a resumed run can continue.
        guard self.writer.pendingRows == 0 && self.file.isResumable else {
            var pending = FileCheckpoint(
                bytes: self.file.bytesWritten,
                rows: Int(self.writer.writtenRows) + self.writer.pendingRows,
                finished: false,
                pending: true
            )
            pending.note(self.file)
            return pending
        }
        let records = self.writer.rowGroups(from: self.journaledRowGroups).map(ParquetRowGroupRecord.encode)
        self.journaledRowGroups = self.writer.rowGroupCount
        // A finished upload vouches for itself, footer and all: it cannot be cut back.
        let whole = self.finished && !self.file.canBeCutBack
        var checkpoint = FileCheckpoint(
            bytes: whole ? self.file.bytesWritten : self.lastRowGroupEnd.bytes,
            rows: Int(self.writer.writtenRows),
            finished: false,
            sha256: whole ? self.file.sha256 : self.lastRowGroupEnd.sha256,
            parquetRowGroups: records.isEmpty ? nil : records
        )
        checkpoint.note(self.file)
        return checkpoint
    }

    /// Writes the last row group, the page index and the footer, and syncs the file. A checkpoint
    /// after it vouches for the row groups of a local file (a resumed run cuts it back and writes
    /// the rest again), for the whole of an upload.
    func finish() throws(SinkError) {
        guard !self.finished else { return }
        try self.finishRowGroup()
        try self.writer.finish()
        try self.file.finish()
        self.finished = true
    }

    func discard() { self.file.discard() }

    /// Puts the file's last row group, page index and footer under its temporary name.
    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile] {
        try self.finish()
        let summary = SinkSummary(
            path: self.file.finalPath,
            format: OutputSink.Format.parquet.rawValue,
            rows: Int(self.writer.writtenRows),
            bytes: self.file.bytesWritten,
            sha256: self.file.sha256
        )
        return [self.file.prepared(summary)]
    }

    private func finishRowGroup() throws(SinkError) {
        guard self.writer.pendingRows > 0 else { return }
        try self.writer.finishRowGroup()
        self.lastRowGroupEnd = (self.file.bytesWritten, self.file.sha256SoFar)
    }

    /// How a schema's column is stored: text, a timestamp (`add_time`), a date (`add_date`), a number.
    private enum Kind { case text, timestamp, date, integer }

    private static func kinds(_ schema: RecordSchema) -> [Kind] {
        schema.columns.map { column in
            switch (column.type, column.origin) {
            case (.integer, .addTime): .timestamp
            case (.integer, _): .integer
            case (.text, .addDate): .date
            case (.text, _): .text
            }
        }
    }

    /// The Parquet columns of a schema: every column required; text as `STRING`, `add_time` as a
    /// UTC timestamp in milliseconds, `add_date` as a `DATE`; bloom filters on the face token and
    /// the user id, whose values are spread over every row group.
    static func columns(_ schema: RecordSchema, bloomFilters: Bool = true) -> [ParquetColumn] {
        zip(schema.columns, Self.kinds(schema)).map { column, kind in
            switch kind {
            case .text:
                ParquetColumn(
                    name: column.name,
                    type: .byteArray,
                    logicalType: .string,
                    hasBloomFilter: bloomFilters && (column.origin == .faceToken || column.origin == .userID)
                )
            case .timestamp: ParquetColumn(name: column.name, type: .int64, logicalType: .timestampMillisUTC)
            case .date: ParquetColumn(name: column.name, type: .int32, logicalType: .date)
            case .integer: ParquetColumn(name: column.name, type: .int64)
            }
        }
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
    static func days(_ text: UnsafeBufferPointer<UInt8>) throws(SinkError) -> Int64 {
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                guard text[index] >= 0x30 && text[index] <= 0x39 else { return nil }
                value = value * 10 + Int64(text[index] - 0x30)
            }
            return value
        }
        guard text.count == 10, text[4] == 0x2D, text[7] == 0x2D, var year = number(0..<4),
            let month = number(5..<7), let day = number(8..<10)
        else {
            throw .value("add_date '\(String(decoding: text, as: UTF8.self))' to Parquet: it is not YYYY-MM-DD")
        }
        // Days from civil (Howard Hinnant's algorithm).
        year -= month <= 2 ? 1 : 0
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
