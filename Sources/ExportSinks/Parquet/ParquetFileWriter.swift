/// A Parquet file written row group by row group, for flat schemas.
///
/// Rows are appended value by value, column by column (``append(_:column:)-(Int64,_)``,
/// ``endRow()``); a row group is held in memory, its pages compressed as they fill, until
/// ``finishRowGroup()`` writes its column chunks through `output`; ``finish()`` writes the footer
/// (`FileMetaData`, its length and `PAR1`). The file starts with `PAR1` before the first row group.
/// Memory is bounded by the row group the caller decides to finish.
public final class ParquetFileWriter {
    /// A key and value of the file's `key_value_metadata`.
    public typealias KeyValue = (key: String, value: String)

    private let columns: [ParquetColumn]
    private let compressor: ParquetPageCompressor
    private let pageSize: Int
    private let dictionaryLimit: Int
    private let keyValueMetadata: [KeyValue]
    private let createdBy: String
    private let output: (UnsafeRawBufferPointer) throws(SinkError) -> Void
    /// The row group's column chunks, one per column, in memory the writer owns: a value goes into
    /// its chunk in place, without the exclusivity check and uniqueness test that an element of an
    /// array held by a class costs at every access (a sixth of the writer's time, measured).
    private let chunks: UnsafeMutableBufferPointer<ParquetColumnChunk>
    /// For each column, how many of the next row groups its chunk starts without a dictionary.
    ///
    /// A column whose dictionary fell back to PLAIN in a row group (its values did not repeat
    /// enough, or outgrew the limit) is written PLAIN from the first value in the next
    /// ``rowGroupsWithoutDictionaryTrial`` row groups, and tried again in the one after. The trial
    /// (hashing, storing and indexing 8,192 values of each unique column, then writing them again)
    /// cost about 6% of the Parquet sink's CPU, zstd included, in every row group, to reach the same
    /// answer. Derived from the row groups' metadata alone, so that a resumed run decides as the
    /// interrupted one would have.
    private var rowGroupsWithoutDictionary: [Int]
    private var rowGroups: [ParquetRowGroupMetadata] = []
    /// Bytes written so far: where the next byte goes.
    public private(set) var offset: Int64 = 0
    /// Rows appended to the row group being built.
    public private(set) var pendingRows = 0
    /// Rows in the row groups written.
    public private(set) var writtenRows: Int64 = 0

    /// The file's magic number, at its start and its end.
    static let magic: [UInt8] = Array("PAR1".utf8)
    /// Row groups a column is written PLAIN after its dictionary fell back, before it is tried again.
    static let rowGroupsWithoutDictionaryTrial = 7

    /// Creates a writer; nothing is written before the first row group or the footer.
    ///
    /// - Parameters:
    ///   - columns: The schema, in column order.
    ///   - codec: How pages are compressed.
    ///   - pageSize: Bytes of values a data page holds before the next begins. Default 1 MiB.
    ///   - dictionaryLimit: Bytes a byte-array column's dictionary may hold in a row group before the
    ///     column falls back to PLAIN; 0 for no dictionaries. Default 1 MiB.
    ///   - keyValueMetadata: The file's `key_value_metadata`.
    ///   - createdBy: The writer's name and version, for `created_by`.
    ///   - output: Writes bytes at the end of the file.
    public convenience init(
        columns: [ParquetColumn],
        codec: ParquetCodec,
        pageSize: Int = 1 << 20,
        dictionaryLimit: Int = 1 << 20,
        keyValueMetadata: [KeyValue] = [],
        createdBy: String,
        output: @escaping (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError) {
        try self.init(
            columns: columns,
            codec: codec,
            pageSize: pageSize,
            dictionaryLimit: dictionaryLimit,
            keyValueMetadata: keyValueMetadata,
            createdBy: createdBy,
            continuing: [],
            at: 0,
            output: output
        )
    }

    /// Creates a writer that continues a file whose first `offset` bytes hold the row groups
    /// `rowGroups` describes (none and 0 for a new file); `output` appends after them.
    init(
        columns: [ParquetColumn],
        codec: ParquetCodec,
        pageSize: Int = 1 << 20,
        dictionaryLimit: Int = 1 << 20,
        keyValueMetadata: [KeyValue] = [],
        createdBy: String,
        continuing rowGroups: [ParquetRowGroupMetadata],
        at offset: Int64,
        output: @escaping (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError) {
        self.columns = columns
        self.compressor = try ParquetPageCompressor(codec: codec)
        self.pageSize = pageSize
        self.dictionaryLimit = dictionaryLimit
        self.keyValueMetadata = keyValueMetadata
        self.createdBy = createdBy
        self.output = output
        self.rowGroups = rowGroups
        self.offset = offset
        self.writtenRows = rowGroups.reduce(0) { $0 + $1.rows }
        var withoutDictionary = Array(repeating: 0, count: columns.count)
        for group in rowGroups {
            for (index, chunk) in zip(withoutDictionary.indices, group.columns) {
                withoutDictionary[index] = Self.rowGroupsWithoutDictionary(after: chunk, withoutDictionary[index])
            }
        }
        self.rowGroupsWithoutDictionary = withoutDictionary
        self.chunks = .allocate(capacity: columns.count)
        _ = self.chunks.initialize(
            from: columns.indices.map { self.nextChunk($0, expectedRows: Int(rowGroups.last?.rows ?? 0)) }
        )
    }

    /// How many of the next row groups a column starts without a dictionary, after its `chunk`
    /// in a row group made when there were `left`.
    static func rowGroupsWithoutDictionary(after chunk: ParquetRowGroupMetadata.Column, _ left: Int) -> Int {
        chunk.dictionaryFellBack ? Self.rowGroupsWithoutDictionaryTrial : max(0, left - 1)
    }

    /// The empty chunk of `column` for the next row group, expected to hold about `expectedRows`.
    private func nextChunk(_ column: Int, expectedRows: Int) -> ParquetColumnChunk {
        ParquetColumnChunk(
            column: self.columns[column],
            dictionaryLimit: self.rowGroupsWithoutDictionary[column] > 0 ? 0 : self.dictionaryLimit,
            pageSize: self.pageSize,
            expectedRows: expectedRows
        )
    }

    deinit {
        self.chunks.deinitialize()
        self.chunks.deallocate()
    }

    /// The row groups written, from the `index`-th on: what the footer will say of them.
    func rowGroups(from index: Int) -> ArraySlice<ParquetRowGroupMetadata> { self.rowGroups[index...] }

    /// Row groups written.
    public var rowGroupCount: Int { self.rowGroups.count }

    /// Appends an integer (or a date's days, a timestamp's milliseconds) to `column` in this row.
    public func append(_ value: Int64, column: Int) throws(SinkError) {
        self.chunks[column].append(value)
        try self.pageFilled(column)
    }

    /// Appends a byte string (text as UTF-8) to `column` in this row.
    public func append(_ bytes: UnsafeBufferPointer<UInt8>, column: Int) throws(SinkError) {
        self.chunks[column].append(bytes)
        try self.pageFilled(column)
    }

    /// Appends no value to the optional `column` in this row.
    public func appendNull(column: Int) {
        self.chunks[column].appendNull()
    }

    /// Ends the row: every column has had its value.
    public func endRow() {
        self.pendingRows += 1
    }

    /// Bytes the row group being built holds (pages, compressed where finished).
    public var pendingBytes: Int {
        self.chunks.reduce(0) { $0 + $1.pagesSize + $1.pageBytes + ($1.dictionary?.encoded.count ?? 0) }
    }

    private func pageFilled(_ column: Int) throws(SinkError) {
        try self.chunks[column].finishPageIfFull(pageSize: self.pageSize, self.compressor)
    }

    /// Writes the row group being built, if it holds a row: each column's chunk in turn.
    public func finishRowGroup() throws(SinkError) {
        guard self.pendingRows > 0 else { return }
        if self.offset == 0 { try self.write(Self.magic) }
        let start = self.offset
        var columns: [ParquetRowGroupMetadata.Column] = []
        for index in self.chunks.indices {
            try self.chunks[index].finishPage(self.compressor)
            let chunk = self.chunks[index]
            precondition(chunk.rows == self.pendingRows, "every column has a value in every row")
            let dictionaryPage = try chunk.dictionaryPage(self.compressor) ?? []
            let dictionaryOffset = dictionaryPage.isEmpty ? nil : self.offset
            try self.write(dictionaryPage)
            columns.append(
                ParquetRowGroupMetadata.Column(
                    offset: self.offset,
                    dictionaryOffset: dictionaryOffset,
                    compressedSize: Int64(dictionaryPage.count + chunk.pagesSize),
                    uncompressedSize: Int64(chunk.uncompressedSize + (chunk.dictionary?.encoded.count ?? 0)),
                    values: Int64(chunk.rows),
                    encodings: chunk.dataEncodings.union(dictionaryPage.isEmpty ? [] : [0]),
                    dictionaryFellBack: chunk.fellBack,
                    statistics: chunk.statistics,
                    pages: chunk.pageRecords.map { page in
                        var located = page
                        located.offset += self.offset
                        return located
                    }
                )
            )
            for page in chunk.pages { try self.write(page) }
        }
        // The row group's bloom filters follow its column chunks: nothing of it waits for the footer.
        for index in self.chunks.indices {
            if let filter = self.chunks[index].bloomFilter() {
                let bytes = filter.encoded()
                columns[index].bloomFilter = (self.offset, Int32(bytes.count))
                try self.write(bytes)
            }
            self.rowGroupsWithoutDictionary[index] = Self.rowGroupsWithoutDictionary(
                after: columns[index],
                self.rowGroupsWithoutDictionary[index]
            )
            self.chunks[index] = self.nextChunk(index, expectedRows: self.pendingRows)
        }
        self.rowGroups.append(
            ParquetRowGroupMetadata(columns: columns, rows: Int64(self.pendingRows), offset: start)
        )
        self.writtenRows += Int64(self.pendingRows)
        self.pendingRows = 0
    }

    /// Writes the last row group, the page index and the footer: the file is complete.
    public func finish() throws(SinkError) {
        try self.finishRowGroup()
        if self.offset == 0 { try self.write(Self.magic) }
        try self.writePageIndex()
        let footer = ParquetFooter(
            columns: self.columns,
            codec: self.compressor.codec,
            rowGroups: self.rowGroups,
            keyValueMetadata: self.keyValueMetadata,
            createdBy: self.createdBy
        ).encoded()
        try self.write(footer)
        try self.write(withUnsafeBytes(of: UInt32(footer.count).littleEndian) { Array($0) })
        try self.write(Self.magic)
    }

    /// The page index (`PageIndex.md`): every chunk's `ColumnIndex` (each page's bounds and nulls),
    /// then every chunk's `OffsetIndex` (where each page is), before the footer that points at them.
    /// A chunk with a page whose bounds cannot be written gets no `ColumnIndex`.
    private func writePageIndex() throws(SinkError) {
        for group in self.rowGroups.indices {
            for column in self.rowGroups[group].columns.indices {
                let chunk = self.rowGroups[group].columns[column]
                guard let index = ParquetPageIndex.columnIndex(chunk.pages, type: self.columns[column].type) else {
                    continue
                }
                self.rowGroups[group].columns[column].columnIndex = (self.offset, Int32(index.count))
                try self.write(index)
            }
        }
        for group in self.rowGroups.indices {
            for column in self.rowGroups[group].columns.indices {
                let index = ParquetPageIndex.offsetIndex(self.rowGroups[group].columns[column].pages)
                self.rowGroups[group].columns[column].offsetIndex = (self.offset, Int32(index.count))
                try self.write(index)
            }
        }
    }

    private func write(_ bytes: [UInt8]) throws(SinkError) {
        let failure: SinkError? = bytes.withUnsafeBytes { buffer in
            do throws(SinkError) { try self.output(buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        self.offset += Int64(bytes.count)
    }
}

/// What the footer says of one row group written.
struct ParquetRowGroupMetadata {
    struct Column {
        /// Where the chunk's first data page starts in the file.
        var offset: Int64
        /// Where its dictionary page starts, before the data pages; nil without one.
        var dictionaryOffset: Int64?
        var compressedSize: Int64
        var uncompressedSize: Int64
        var values: Int64
        /// The encodings of its pages' values (`Encoding`).
        var encodings: Set<Int32>
        /// Whether it began with a dictionary and went on PLAIN: the column's next chunks start without one.
        var dictionaryFellBack = false
        var statistics: ParquetStatistics
        /// Its data pages, at their places in the file.
        var pages: [ParquetPageRecord]
        /// Where its bloom filter was written (offset, length); nil for none.
        var bloomFilter: (offset: Int64, length: Int32)?
        /// Where its `ColumnIndex` and `OffsetIndex` were written (offset, length); nil before.
        var columnIndex: (offset: Int64, length: Int32)?
        var offsetIndex: (offset: Int64, length: Int32)?
    }

    var columns: [Column]
    var rows: Int64
    /// Where the row group's first page starts in the file.
    var offset: Int64
}
