/// What the footer will say of a row group, as text for the run's journal and back.
///
/// A Parquet file's footer is written last, but its row groups are written as they fill; so that a
/// resumed run can finish a file an interrupted one began, each row group's metadata (where its
/// chunks and pages lie, their encodings and statistics) goes into the journal with the checkpoint
/// that follows it. The text is hexadecimal of a private binary form: varints (signed ones
/// zig-zagged), byte strings with their length, and a version byte first.
enum ParquetRowGroupRecord {
    private static let version: UInt8 = 1

    /// The record of `group`.
    static func encode(_ group: ParquetRowGroupMetadata) -> String {
        var writer = ThriftCompactWriter()
        writer.append(Self.version)
        writer.varint(UInt64(group.rows))
        writer.varint(UInt64(group.offset))
        writer.varint(UInt64(group.columns.count))
        for column in group.columns {
            writer.varint(UInt64(column.offset))
            writer.varint(column.dictionaryOffset.map { UInt64($0) + 1 } ?? 0)
            writer.varint(UInt64(column.compressedSize))
            writer.varint(UInt64(column.uncompressedSize))
            writer.varint(UInt64(column.values))
            writer.varint(UInt64(column.encodings.count))
            for encoding in column.encodings.sorted() { writer.varint(UInt64(encoding)) }
            Self.encode(column.statistics, into: &writer)
            writer.varint(UInt64(column.pages.count))
            for page in column.pages {
                writer.varint(UInt64(page.offset))
                writer.varint(UInt64(page.size))
                writer.varint(UInt64(page.firstRow))
                writer.varint(UInt64(page.rows))
                Self.encode(page.statistics, into: &writer)
            }
            // Flags: 1, a bloom filter (its offset and length follow); 2, the dictionary fell back.
            writer.append((column.bloomFilter != nil ? 1 : 0) | (column.dictionaryFellBack ? 2 : 0))
            if let filter = column.bloomFilter {
                writer.varint(UInt64(filter.offset))
                writer.varint(UInt64(filter.length))
            }
        }
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(writer.bytes.count * 2)
        for byte in writer.bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The row group a record describes; nil when the text is not one this version wrote.
    static func decode(_ text: String) -> ParquetRowGroupMetadata? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        guard high == nil else { return nil }
        var reader = Reader(bytes: bytes)
        return reader.rowGroup()
    }

    private static func encode(_ statistics: ParquetStatistics, into writer: inout ThriftCompactWriter) {
        let flags: UInt8 =
            (statistics.minimumInteger != nil ? 1 : 0) | (statistics.maximumInteger != nil ? 2 : 0)
            | (statistics.minimumBytes != nil ? 4 : 0) | (statistics.maximumBytes != nil ? 8 : 0)
        writer.append(flags)
        if let value = statistics.minimumInteger { writer.varint(ThriftCompactWriter.zigzag(value)) }
        if let value = statistics.maximumInteger { writer.varint(ThriftCompactWriter.zigzag(value)) }
        for value in [statistics.minimumBytes, statistics.maximumBytes].compactMap({ $0 }) {
            writer.varint(UInt64(value.count))
            for byte in value { writer.append(byte) }
        }
        writer.varint(UInt64(statistics.nullCount))
    }

    /// Reads a record's bytes; every read returns nil past the end.
    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func rowGroup() -> ParquetRowGroupMetadata? {
            guard self.byte() == ParquetRowGroupRecord.version, let rows = self.number(), let offset = self.number(),
                let count = self.number(), count < 1 << 16
            else { return nil }
            var columns: [ParquetRowGroupMetadata.Column] = []
            for _ in 0..<count {
                guard let column = self.column() else { return nil }
                columns.append(column)
            }
            guard self.position == self.bytes.count else { return nil }
            return ParquetRowGroupMetadata(columns: columns, rows: rows, offset: offset)
        }

        private mutating func column() -> ParquetRowGroupMetadata.Column? {
            guard let offset = self.number(), let dictionary = self.number(), let compressed = self.number(),
                let uncompressed = self.number(), let values = self.number(), let encodingCount = self.number(),
                encodingCount < 16
            else { return nil }
            var encodings: Set<Int32> = []
            for _ in 0..<encodingCount {
                guard let encoding = self.number(), encoding < 64 else { return nil }
                encodings.insert(Int32(encoding))
            }
            guard let statistics = self.statistics(), let pageCount = self.number(), pageCount < 1 << 24 else {
                return nil
            }
            var pages: [ParquetPageRecord] = []
            for _ in 0..<pageCount {
                guard let pageOffset = self.number(), let size = self.number(), let firstRow = self.number(),
                    let rows = self.number(), let pageStatistics = self.statistics()
                else { return nil }
                pages.append(
                    ParquetPageRecord(
                        offset: pageOffset,
                        size: Int(size),
                        firstRow: firstRow,
                        statistics: pageStatistics,
                        rows: Int(rows)
                    )
                )
            }
            var column = ParquetRowGroupMetadata.Column(
                offset: offset,
                dictionaryOffset: dictionary == 0 ? nil : dictionary - 1,
                compressedSize: compressed,
                uncompressedSize: uncompressed,
                values: values,
                encodings: encodings,
                statistics: statistics,
                pages: pages
            )
            guard let flags = self.byte(), flags < 4 else { return nil }
            if flags & 1 != 0 {
                guard let filterOffset = self.number(), let length = self.number(), length <= Int32.max else {
                    return nil
                }
                column.bloomFilter = (filterOffset, Int32(length))
            }
            column.dictionaryFellBack = flags & 2 != 0
            return column
        }

        private mutating func statistics() -> ParquetStatistics? {
            guard let flags = self.byte(), flags < 16 else { return nil }
            var minimumInteger: Int64?
            var maximumInteger: Int64?
            if flags & 1 != 0 {
                guard let value = self.varint() else { return nil }
                minimumInteger = Self.unzigzag(value)
            }
            if flags & 2 != 0 {
                guard let value = self.varint() else { return nil }
                maximumInteger = Self.unzigzag(value)
            }
            var minimumBytes: [UInt8]?
            var maximumBytes: [UInt8]?
            if flags & 4 != 0 {
                guard let value = self.byteString() else { return nil }
                minimumBytes = value
            }
            if flags & 8 != 0 {
                guard let value = self.byteString() else { return nil }
                maximumBytes = value
            }
            guard let nulls = self.number() else { return nil }
            return ParquetStatistics(
                minimumInteger: minimumInteger,
                maximumInteger: maximumInteger,
                minimumBytes: minimumBytes,
                maximumBytes: maximumBytes,
                nullCount: nulls
            )
        }

        private mutating func byteString() -> [UInt8]? {
            guard let count = self.number(), count <= self.bytes.count - self.position else { return nil }
            defer { self.position += Int(count) }
            return Array(self.bytes[self.position..<(self.position + Int(count))])
        }

        private mutating func byte() -> UInt8? {
            guard self.position < self.bytes.count else { return nil }
            defer { self.position += 1 }
            return self.bytes[self.position]
        }

        /// A varint that fits a non-negative `Int64`.
        private mutating func number() -> Int64? {
            guard let value = self.varint(), value <= UInt64(Int64.max) else { return nil }
            return Int64(value)
        }

        private mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while shift < 64, let byte = self.byte() {
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }

        private static func unzigzag(_ value: UInt64) -> Int64 {
            Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
        }
    }
}
