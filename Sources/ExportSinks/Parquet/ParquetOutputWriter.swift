#if canImport(Glibc)
import Glibc
#endif

/// One Parquet output file.
///
/// A Parquet file is only whole with its footer, and a row group is only worth writing when it is
/// large; the run's journal, though, vouches for every page. So the records go first to a spool
/// beside the file (`<name>.spool`, binary rows, written, checkpointed, resumed and discarded as
/// a text output is), and the Parquet file is made from the spool when the run commits: row groups
/// of ``OutputSink/Configuration/rowGroupBytes``, then the page index and the footer. The spool is
/// removed once the commit has put the file in place.
final class ParquetOutputWriter: FileWriter {
    private let spool: TextFileWriter
    private let spoolPath: String
    private let path: String
    private let runID: String
    private let schema: RecordSchema
    private let configuration: OutputSink.Configuration
    private let keyValueMetadata: [ParquetFileWriter.KeyValue]

    init(
        path: String,
        schema: RecordSchema,
        run: OutputPathTemplate.RunValues,
        configuration: OutputSink.Configuration,
        resume: FileCheckpoint?
    ) throws(SinkError) {
        self.path = path
        self.spoolPath = path + ".spool"
        self.runID = run.runID
        self.schema = schema
        self.configuration = configuration
        self.keyValueMetadata =
            [("faceexport.run_id", run.runID), ("faceexport.pipeline", run.pipeline)]
            + configuration.keyValueMetadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.spool = try TextFileWriter(
            path: self.spoolPath,
            format: .parquet,
            encoder: ParquetSpoolEncoder(),
            runID: run.runID,
            compression: .standard,
            mode: configuration.fileMode,
            resume: resume,
            steps: configuration.steps
        )
    }

    func write(_ records: RecordRows) throws(SinkError) { try self.spool.write(records) }

    func checkpoint() throws(SinkError) -> FileCheckpoint { try self.spool.checkpoint() }

    func finish() throws(SinkError) { try self.spool.finish() }

    func discard() {
        self.spool.discard()
        self.configuration.steps.remove(AtomicFile.temporaryPath(for: self.path, runID: self.runID))
    }

    /// Makes the Parquet file from the spool, under its temporary name; the spool goes with the commit.
    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile] {
        let spooled = try self.spool.prepareCommit(context)[0]
        let file = try AtomicFile(
            path: self.path,
            runID: self.runID,
            mode: mode_t(self.configuration.fileMode),
            steps: self.configuration.steps
        )
        let writer = try ParquetFileWriter(
            columns: Self.columns(self.schema, bloomFilters: self.configuration.parquetBloomFilters),
            codec: self.configuration.parquetCodec,
            keyValueMetadata: self.keyValueMetadata,
            createdBy: "faceexport",
            output: { (bytes) throws(SinkError) in try file.write(bytes) }
        )
        let kinds = Self.kinds(self.schema)
        var decoder = ParquetSpoolDecoder(width: self.schema.columns.count)
        var failure: SinkError?
        _ = try AtomicFile.readChunks(of: spooled.temporaryPath) { chunk in
            guard failure == nil else { return }
            do throws(SinkError) {
                try decoder.feed(chunk) { (row) throws(SinkError) in
                    for (column, cell) in row.enumerated() {
                        switch (kinds[column], cell) {
                        case (.date, .text(let bytes)): try writer.append(Self.days(bytes), column: column)
                        case (_, .text(let bytes)): try writer.append(bytes, column: column)
                        case (_, .integer(let number)): try writer.append(number, column: column)
                        }
                    }
                    writer.endRow()
                    if writer.pendingBytes >= self.configuration.rowGroupBytes { try writer.finishRowGroup() }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        guard decoder.isAtRowBoundary, writer.writtenRows + Int64(writer.pendingRows) == spooled.summary.rows else {
            throw .damaged(
                "the spool \(spooled.temporaryPath)",
                "does not hold the \(spooled.summary.rows) rows it was written with",
                advice: "run again without --resume"
            )
        }
        try writer.finish()
        try file.finish()
        let summary = SinkSummary(
            path: self.path,
            format: OutputSink.Format.parquet.rawValue,
            rows: spooled.summary.rows,
            bytes: file.bytesWritten,
            sha256: file.sha256
        )
        var prepared = PreparedFile(temporaryPath: file.temporaryPath, summary: summary)
        prepared.spent = [spooled.temporaryPath]
        return [prepared]
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
            throw .compression("add_date '\(String(decoding: text, as: UTF8.self))' is not YYYY-MM-DD")
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

/// A spool's rows: each cell a tag byte, then 8 little-endian bytes for an integer (tag 2) or a
/// 4-byte little-endian length and the bytes for text (tag 1).
struct ParquetSpoolEncoder: RecordEncoder {
    let header: [UInt8] = []

    func encode(row: Int, of rows: RecordRows.Reader, into output: inout [UInt8]) {
        for column in 0..<rows.width {
            switch rows.cell(row: row, column: column) {
            case .integer(let number):
                output.append(2)
                withUnsafeBytes(of: number.littleEndian) { output.append(contentsOf: $0) }
            case let cell:
                let bytes = rows.bytes(of: cell)
                output.append(1)
                withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { output.append(contentsOf: $0) }
                output.append(contentsOf: bytes)
            }
        }
    }
}

/// Reads a spool back, chunk by chunk, row by row; a row cut between two chunks is kept for the next.
struct ParquetSpoolDecoder {
    enum Cell {
        case text(UnsafeBufferPointer<UInt8>)
        case integer(Int64)
    }

    let width: Int
    private var carry: [UInt8] = []

    init(width: Int) { self.width = width }

    /// Whether every byte fed so far belonged to a whole row.
    var isAtRowBoundary: Bool { self.carry.isEmpty }

    mutating func feed(
        _ chunk: UnsafeRawBufferPointer,
        _ row: ([Cell]) throws(SinkError) -> Void
    ) throws(SinkError) {
        // Only a row cut between two chunks is copied; the rest is read where it lies.
        guard !self.carry.isEmpty else {
            let consumed = try self.rows(in: chunk.assumingMemoryBound(to: UInt8.self), row)
            self.carry = Array(chunk[consumed...])
            return
        }
        var bytes = self.carry
        bytes.append(contentsOf: chunk)
        let consumed = try bytes.withUnsafeBufferPointer { (buffer) throws(SinkError) in try self.rows(in: buffer, row)
        }
        self.carry = Array(bytes[consumed...])
    }

    /// Hands on every whole row at the start of `buffer`; returns the bytes they take.
    private func rows(
        in buffer: UnsafeBufferPointer<UInt8>,
        _ row: ([Cell]) throws(SinkError) -> Void
    ) throws(SinkError) -> Int {
        var consumed = 0
        var cells: [Cell] = []
        cells.reserveCapacity(self.width)
        rows: while true {
            var position = consumed
            cells.removeAll(keepingCapacity: true)
            for _ in 0..<self.width {
                guard position < buffer.count else { break rows }
                let tag = buffer[position]
                if tag == 2 {
                    guard position + 9 <= buffer.count else { break rows }
                    let value = UnsafeRawPointer(buffer.baseAddress! + position + 1).loadUnaligned(as: Int64.self)
                    cells.append(.integer(Int64(littleEndian: value)))
                    position += 9
                } else if tag == 1 {
                    guard position + 5 <= buffer.count else { break rows }
                    let raw = UnsafeRawPointer(buffer.baseAddress! + position + 1).loadUnaligned(as: UInt32.self)
                    let count = Int(UInt32(littleEndian: raw))
                    guard position + 5 + count <= buffer.count else { break rows }
                    cells.append(.text(UnsafeBufferPointer(rebasing: buffer[(position + 5)..<(position + 5 + count)])))
                    position += 5 + count
                } else {
                    throw SinkError.damaged(
                        "a Parquet spool",
                        "holds a cell it does not know (tag \(tag))",
                        advice: "run again without --resume"
                    )
                }
            }
            try row(cells)
            consumed = position
        }
        return consumed
    }
}
