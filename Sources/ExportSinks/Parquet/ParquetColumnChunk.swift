/// One column's part of the row group being built: its current page, and the pages already
/// finished (headers and compressed bodies, in file order).
///
/// Pages are data pages version 1 (`DATA_PAGE`): for an optional column its definition levels
/// first (RLE, bit width 1, with their 4-byte length), then the values. A byte-array column starts
/// with a dictionary (`RLE_DICTIONARY` pages of indices, the dictionary page written first in the
/// chunk) and falls back to `PLAIN` pages once the dictionary outgrows its limit, or, as parquet-mr
/// does, once its first values show that it does not pay: after ``dictionaryTrialValues`` values,
/// if the dictionary and the indices take as many bytes as the values PLAIN would. Library ids keep
/// their dictionary; face tokens and other unique text go PLAIN at once, which is both smaller
/// and cheaper than a dictionary of values seen once. A chunk made with a `dictionaryLimit` of 0
/// has no dictionary: its values are PLAIN from the first (see ``ParquetFileWriter``).
struct ParquetColumnChunk {
    let column: ParquetColumn
    /// Bytes of PLAIN-encoded values the dictionary may hold before the chunk falls back to PLAIN.
    let dictionaryLimit: Int
    /// The current page's values, PLAIN-encoded (pages without the dictionary), in the first
    /// ``valuesCount`` bytes: a buffer written in place, since appending to an array value by value
    /// costs more than copying the values. It doubles from 4 KiB up to ``plainCapacity`` as values
    /// come (a file of one small library zeroes a few KiB, not a page), and is kept from page to page.
    private var values: [UInt8] = []
    private var valuesCount = 0
    private let plainCapacity: Int
    /// The chunk's dictionary; nil for a column without one.
    private(set) var dictionary: ParquetDictionary?
    /// Whether the dictionary is full or does not pay: new values go to PLAIN pages.
    private(set) var fellBack = false
    /// The dictionary index and hash of the last value looked up.
    private var previousValue: (index: UInt32, hash: UInt64)?
    /// Values the chunk has encoded with the dictionary, and their bytes PLAIN.
    private var dictionaryValues = 0
    private var dictionaryValuesPlainBytes = 0
    /// Values after which the chunk checks that its dictionary pays.
    static let dictionaryTrialValues = 8192
    /// The current page's dictionary indices (pages with the dictionary).
    private var indices: [UInt32] = []
    /// The encodings of the finished data pages.
    private(set) var dataEncodings: Set<Int32> = []
    /// The dictionary filled up during the current page: it must end before the next value.
    private(set) var mustFinishPage = false
    /// The xxHash64 of every value, for the chunk's bloom filter (columns with one only).
    private var hashes: [UInt64] = []
    /// The current page's definition levels, one per row: 1 for a value, 0 for none (optional columns only).
    private var levels: [Bool] = []
    private var pageRows = 0
    private var pageStatistics = ParquetStatistics()

    /// The finished pages.
    private(set) var pages: [[UInt8]] = []
    /// Bytes of the finished pages, headers included.
    private(set) var pagesSize = 0
    /// The finished data pages: where each starts in ``pages``, its size, its first row and its
    /// statistics, for the page index.
    private(set) var pageRecords: [ParquetPageRecord] = []
    private(set) var statistics = ParquetStatistics()
    /// Rows (values and nulls) in the finished pages.
    private(set) var rows = 0
    /// Bytes of the finished pages before compression, headers included.
    private(set) var uncompressedSize = 0

    /// A chunk whose pages end past `pageSize` bytes of values, in a row group expected to hold
    /// about `expectedRows` (the previous one's; 0 for the first): its page buffer and its bloom
    /// filter's hashes are made that large (and an eighth) once, rather than doubled up to twice it.
    init(column: ParquetColumn, dictionaryLimit: Int, pageSize: Int, expectedRows: Int = 0) {
        self.column = column
        self.dictionaryLimit = dictionaryLimit
        if column.type == .byteArray && dictionaryLimit > 0 { self.dictionary = ParquetDictionary() }
        self.plainCapacity = column.type == .byteArray ? pageSize + pageSize / 8 : pageSize + 8
        if column.hasBloomFilter { self.hashes.reserveCapacity(expectedRows + expectedRows / 8) }
    }

    /// Whether the current page holds dictionary indices.
    private var pageUsesDictionary: Bool { self.dictionary != nil && !self.fellBack }

    /// Bytes the current page holds so far (indices at 4 bytes: a page of indices ends by a
    /// quarter of the page size's count, whatever the dictionary's width).
    var pageBytes: Int { self.valuesCount + self.indices.count * 4 + self.levels.count / 8 }

    /// Rows of this chunk, the current page's included.
    var rowCount: Int { self.rows + self.pageRows }

    mutating func append(_ value: Int64) {
        switch self.column.type {
        case .int64: withUnsafeBytes(of: value.littleEndian) { self.appendPlain($0, lengthPrefixed: false) }
        case .int32:
            withUnsafeBytes(of: Int32(truncatingIfNeeded: value).littleEndian) {
                self.appendPlain($0, lengthPrefixed: false)
            }
        case .byteArray: preconditionFailure("an integer in the byte-array column \(self.column.name)")
        }
        self.pageStatistics.add(value)
        self.rowAppended(present: true)
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(self.column.type == .byteArray, "bytes in the integer column \(self.column.name)")
        if self.pageUsesDictionary {
            // A value like the one before it (a library's id, row after row) is not looked up again.
            let hash: UInt64
            let index: UInt32
            if let previous = self.previousValue, self.dictionary!.holds(previous.index, equalTo: bytes) {
                (index, hash) = previous
            } else {
                hash = XXHash64.hash(bytes)
                index = self.dictionary!.index(of: bytes, hash: hash)
                self.previousValue = (index, hash)
            }
            if self.column.hasBloomFilter { self.hashes.append(hash) }
            self.indices.append(index)
            self.dictionaryValues += 1
            self.dictionaryValuesPlainBytes += 4 + bytes.count
            if self.dictionary!.encoded.count > self.dictionaryLimit
                || (self.dictionaryValues == Self.dictionaryTrialValues && !self.dictionaryPays)
            {
                self.fellBack = true
                self.mustFinishPage = true
            }
        } else {
            if self.column.hasBloomFilter { self.hashes.append(XXHash64.hash(bytes)) }
            self.appendPlain(UnsafeRawBufferPointer(bytes), lengthPrefixed: true)
        }
        self.pageStatistics.add(bytes)
        self.rowAppended(present: true)
    }

    /// Copies `bytes` after the page's PLAIN values (after their 4-byte length, for a byte array),
    /// making the buffer twice as large (up to ``plainCapacity``, or as large as they need) when they
    /// do not fit.
    private mutating func appendPlain(_ bytes: UnsafeRawBufferPointer, lengthPrefixed: Bool) {
        let start = self.valuesCount
        let end = start + (lengthPrefixed ? 4 : 0) + bytes.count
        if end > self.values.count {
            let grown = max(end, min(max(2 * self.values.count, 4096), self.plainCapacity))
            self.values.append(contentsOf: repeatElement(0, count: grown - self.values.count))
        }
        self.values.withUnsafeMutableBytes { buffer in
            var position = start
            if lengthPrefixed {
                buffer.storeBytes(of: UInt32(bytes.count).littleEndian, toByteOffset: position, as: UInt32.self)
                position += 4
            }
            if !bytes.isEmpty {
                (buffer.baseAddress! + position).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        }
        self.valuesCount = end
    }

    mutating func appendNull() {
        precondition(self.column.isOptional, "no value in the required column \(self.column.name)")
        self.pageStatistics.nullCount += 1
        self.rowAppended(present: false)
    }

    private mutating func rowAppended(present: Bool) {
        if self.column.isOptional { self.levels.append(present) }
        self.pageRows += 1
    }

    /// Whether the dictionary and its indices take fewer bytes than the values they encode, PLAIN.
    private var dictionaryPays: Bool {
        let width = ParquetHybridEncoding.bitWidth(forCount: self.dictionary!.count)
        return self.dictionary!.encoded.count + (self.dictionaryValues * width + 7) / 8
            < self.dictionaryValuesPlainBytes
    }

    /// Ends the current page once it holds `pageSize` bytes, or when its dictionary filled up.
    mutating func finishPageIfFull(pageSize: Int, _ compressor: ParquetPageCompressor) throws(SinkError) {
        if self.pageBytes >= pageSize || self.mustFinishPage { try self.finishPage(compressor) }
    }

    /// Ends the current page, if it holds a row: compresses it and appends it with its header.
    mutating func finishPage(_ compressor: ParquetPageCompressor) throws(SinkError) {
        guard self.pageRows > 0 else { return }
        var body: [UInt8] = []
        if self.column.isOptional {
            let levels = Self.runLengthEncoded(self.levels)
            withUnsafeBytes(of: UInt32(levels.count).littleEndian) { body.append(contentsOf: $0) }
            body += levels
        }
        let encoding: Int32
        if !self.indices.isEmpty || (self.pageUsesDictionary && self.valuesCount == 0) {
            let width = ParquetHybridEncoding.bitWidth(forCount: self.dictionary!.count)
            var indices = ThriftCompactWriter()
            indices.append(UInt8(width))
            ParquetHybridEncoding.encode(self.indices, bitWidth: width, into: &indices)
            body += indices.bytes
            encoding = 8  // RLE_DICTIONARY
        } else {
            if !body.isEmpty { body += self.values[..<self.valuesCount] }
            encoding = 0  // PLAIN
        }
        // A required column's PLAIN values are the body as they are: not copied to be compressed.
        let valuesAreBody = body.isEmpty
        let bodySize = valuesAreBody ? self.valuesCount : body.count
        var headerSize = 0
        let (rows, statistics, type) = (self.pageRows, self.pageStatistics, self.column.type)
        let header = { (compressedSize: Int) -> [UInt8] in
            var header = ThriftCompactWriter()
            header.structureValue { page in
                page.i32(1, 0)  // DATA_PAGE
                page.i32(2, Int32(bodySize))
                page.i32(3, Int32(compressedSize))
                page.structure(5) { data in
                    data.i32(1, Int32(rows))
                    data.i32(2, encoding)
                    data.i32(3, 3)  // RLE
                    data.i32(4, 3)  // RLE
                    data.structure(5) { statistics.encode(into: &$0, type: type) }
                }
            }
            headerSize = header.bytes.count
            return header.bytes
        }
        let page = try compressor.page(valuesAreBody ? self.values : body, count: bodySize, header: header)
        self.pageRecords.append(
            ParquetPageRecord(
                offset: Int64(self.pagesSize),
                size: page.count,
                firstRow: Int64(self.rows),
                statistics: self.pageStatistics,
                rows: self.pageRows
            )
        )
        // Each page in an array of its own: one growing array would hold up to twice the row group.
        self.pages.append(page)
        self.pagesSize += page.count
        self.uncompressedSize += headerSize + bodySize
        self.statistics.merge(self.pageStatistics)
        self.rows += self.pageRows
        self.dataEncodings.insert(encoding)
        self.valuesCount = 0
        self.indices.removeAll(keepingCapacity: true)
        self.mustFinishPage = false
        self.levels.removeAll(keepingCapacity: true)
        self.pageRows = 0
        self.pageStatistics = ParquetStatistics()
    }

    /// The dictionary page (header and compressed values) that goes before the data pages, when a
    /// data page used the dictionary.
    func dictionaryPage(_ compressor: ParquetPageCompressor) throws(SinkError) -> [UInt8]? {
        guard let dictionary = self.dictionary, self.dataEncodings.contains(8) else { return nil }
        return try compressor.page(dictionary.encoded) { compressedSize in
            var header = ThriftCompactWriter()
            header.structureValue { page in
                page.i32(1, 2)  // DICTIONARY_PAGE
                page.i32(2, Int32(dictionary.encoded.count))
                page.i32(3, Int32(compressedSize))
                page.structure(7) { entries in
                    entries.i32(1, Int32(dictionary.count))
                    entries.i32(2, 0)  // PLAIN
                }
            }
            return header.bytes
        }
    }

    /// The chunk's bloom filter, sized for its distinct values (the dictionary's count while it
    /// holds them all, every value's otherwise); nil for a column without one.
    func bloomFilter() -> ParquetBloomFilter? {
        guard self.column.hasBloomFilter else { return nil }
        let distinct = self.fellBack ? self.hashes.count : self.dictionary?.count ?? self.hashes.count
        var filter = ParquetBloomFilter(distinctValues: distinct)
        filter.insert(hashes: self.hashes)
        return filter
    }

    /// The levels as the RLE/bit-packing hybrid, in RLE runs only: a run's length (shifted left by
    /// one) as a varint, then its level in one byte.
    static func runLengthEncoded(_ levels: [Bool]) -> [UInt8] {
        var encoded = ThriftCompactWriter()
        var start = 0
        while start < levels.count {
            var end = start + 1
            while end < levels.count && levels[end] == levels[start] { end += 1 }
            encoded.varint(UInt64(end - start) << 1)
            encoded.append(levels[start] ? 1 : 0)
            start = end
        }
        return encoded.bytes
    }
}

/// One data page as the page index describes it (`PageLocation`, and its `ColumnIndex` entry).
struct ParquetPageRecord {
    /// Where the page starts: in its chunk's pages while the row group is built, in the file after.
    var offset: Int64
    /// Bytes of the page, header included.
    var size: Int
    /// The row group's row the page starts with.
    var firstRow: Int64
    var statistics: ParquetStatistics
    var rows: Int
}
