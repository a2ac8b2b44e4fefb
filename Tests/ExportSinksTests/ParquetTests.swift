import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

@testable import ExportSinks

/// Thrift's compact protocol, byte for byte as its specification spells it out.
struct ThriftCompactWriterTests {
    @Test func fieldsUseShortAndLongHeadersZigzagIntegersAndAStopByte() {
        var writer = ThriftCompactWriter()
        writer.structureValue { fields in
            fields.i32(1, 5)  // delta 1, type 5; zigzag 5 = 10
            fields.bool(3, true)  // delta 2, BOOLEAN_TRUE, no value
            fields.binary(20, Array("ab".utf8))  // delta 17: long form, id zigzag 40
            fields.i64(21, -1)  // delta 1, type 6; zigzag -1 = 1
            fields.i64(22, 300)  // zigzag 600 = 0xD8 0x04
        }
        #expect(writer.bytes == [0x15, 0x0A, 0x21, 0x08, 0x28, 0x02, 0x61, 0x62, 0x16, 0x01, 0x16, 0xD8, 0x04, 0x00])
    }

    @Test func listsHaveAShortFormUpToFourteenElementsAndBooleansAreOneByteEach() {
        var short = ThriftCompactWriter()
        short.structureValue { $0.list(1, bool: [true, false]) }
        #expect(short.bytes == [0x19, 0x22, 0x01, 0x00, 0x00])
        var long = ThriftCompactWriter()
        long.structureValue { $0.list(1, i32: Array(repeating: 1, count: 15)) }
        #expect(long.bytes == [0x19, 0xF5, 0x0F] + Array(repeating: 0x02, count: 15) + [0x00])
    }

    @Test func aNestedStructCountsItsFieldIDsFromZeroAgain() {
        var writer = ThriftCompactWriter()
        writer.structureValue { outer in
            outer.i32(5, 0)
            outer.structure(6) { $0.i32(1, 1) }
            outer.i32(7, 0)
        }
        #expect(writer.bytes == [0x55, 0x00, 0x1C, 0x15, 0x02, 0x00, 0x15, 0x00, 0x00])
    }
}

/// xxHash64 against its published values; the bloom filter finds what it holds.
struct BloomFilterTests {
    @Test(arguments: [
        ("", 0xEF46_DB37_51D8_E999 as UInt64), ("a", 0xD24E_C4F1_A98C_6E5B), ("abc", 0x44BC_2CF5_AD77_0999),
        ("Nobody inspects the spammish repetition", 0xFBCE_A83C_8A37_8BF1),
    ])
    func xxHash64MatchesItsReferenceValues(_ text: String, _ expected: UInt64) {
        #expect(Array(text.utf8).withUnsafeBufferPointer { XXHash64.hash($0) } == expected)
    }

    @Test func everyInsertedValueMayBeThereAndFewOthersDo() {
        var filter = ParquetBloomFilter(distinctValues: 1000)
        let hashes = (0..<1000).map { index in Array("face-\(index)".utf8).withUnsafeBufferPointer { XXHash64.hash($0) }
        }
        for hash in hashes { filter.insert(hash: hash) }
        #expect(hashes.allSatisfy { filter.mayContain(hash: $0) })
        let others = (0..<10_000).map { index in
            Array("other-\(index)".utf8).withUnsafeBufferPointer { XXHash64.hash($0) }
        }
        #expect(others.filter { filter.mayContain(hash: $0) }.count < 300, "about 1% false positives")
        #expect(filter.words.count * 4 >= 1024 && (filter.words.count * 4).nonzeroBitCount == 1)
    }

    /// 27,000 values need about 32.4 KB at 1%: the filter takes 32 KB, not 64, and stays near 1%.
    @Test func aFilterJustShortOfItsBitsRoundsDownAndStaysNearItsRate() {
        var filter = ParquetBloomFilter(distinctValues: 27_000)
        #expect(filter.words.count * 4 == 32 << 10)
        for index in 0..<27_000 {
            filter.insert(hash: Array("face-\(index)".utf8).withUnsafeBufferPointer { XXHash64.hash($0) })
        }
        let falsePositives = (0..<100_000).filter { index in
            filter.mayContain(hash: Array("other-\(index)".utf8).withUnsafeBufferPointer { XXHash64.hash($0) })
        }
        #expect(falsePositives.count < 2_500, "at most about 2%: \(falsePositives.count) of 100,000")
        #expect(ParquetBloomFilter(distinctValues: 32_000).words.count * 4 == 64 << 10, "18% short: rounded up")
    }
}

/// The RLE/bit-packing hybrid, as `Encodings.md` spells it out.
struct ParquetHybridEncodingTests {
    @Test func eightEqualValuesAreARunAndTheRestIsBitPackedLeastSignificantBitFirst() {
        var run = ThriftCompactWriter()
        ParquetHybridEncoding.encode([0, 0, 0, 0, 0, 0, 0, 0, 1], bitWidth: 1, into: &run)
        #expect(run.bytes == [0x10, 0x00, 0x03, 0x01])
        // The specification's own example: 0 to 7 at three bits.
        var packed = ThriftCompactWriter()
        ParquetHybridEncoding.encode([0, 1, 2, 3, 4, 5, 6, 7], bitWidth: 3, into: &packed)
        #expect(packed.bytes == [0x03, 0x88, 0xC6, 0xFA])
        #expect(ParquetHybridEncoding.bitWidth(forCount: 1) == 1)
        #expect(ParquetHybridEncoding.bitWidth(forCount: 2) == 1)
        #expect(ParquetHybridEncoding.bitWidth(forCount: 3) == 2)
        #expect(ParquetHybridEncoding.bitWidth(forCount: 256) == 8)
        #expect(ParquetHybridEncoding.bitWidth(forCount: 257) == 9)
    }
}

/// Parquet files as independent readers (pyarrow's C++ reader, DuckDB's own) read them: every value
/// byte for byte, the declared types, statistics and metadata.
@Suite(.serialized)
struct ParquetFileTests {
    static let columns = [
        ParquetColumn(name: "group_id", type: .byteArray, logicalType: .string),
        ParquetColumn(
            name: "user_data",
            type: .byteArray,
            logicalType: .string,
            isOptional: true,
            hasBloomFilter: true
        ),
        ParquetColumn(name: "add_time", type: .int64, logicalType: .timestampMillisUTC),
        ParquetColumn(name: "add_date", type: .int32, logicalType: .date),
        ParquetColumn(name: "n", type: .int64),
    ]

    struct Row: Equatable {
        var group: String
        var data: String?
        var time: Int64
        var days: Int32
        var n: Int64
    }

    /// Every hard string, every UTF-8 length, empty strings, strings past the statistics' limit and
    /// past a whole page, nulls.
    static let rows: [Row] = {
        var texts = DatasetGenerator.hardStrings + ["", "a", "é", "€", "😀", String(repeating: "é", count: 40)]
        texts += [String(repeating: "z", count: 70) + "😀", "\u{7F}" + String(repeating: "\u{10FFFF}", count: 20)]
        texts += [String(repeating: "長い値 ", count: 400)]
        return texts.enumerated().map { index, text in
            Row(
                group: "lib-\(index % 3)",
                data: index % 5 == 4 ? nil : text,
                time: 1_767_225_600_000 + Int64(index) * 86_400_017 - 40_000_000_000,
                days: Int32(20_454 + index),
                n: Int64(index) * (index % 2 == 0 ? 1 : -1) * 1_000_000_007
            )
        }
    }()

    /// A writer of ``columns``, continuing the row groups `rowGroups` that end at `offset` (a new
    /// file when none).
    static func writer(
        codec: ParquetCodec = .none,
        pageSize: Int = 1 << 20,
        dictionaryLimit: Int = 1 << 20,
        continuing rowGroups: [ParquetRowGroupMetadata] = [],
        at offset: Int64 = 0,
        into output: @escaping (UnsafeRawBufferPointer) -> Void
    ) throws -> ParquetFileWriter {
        try ParquetFileWriter(
            columns: Self.columns,
            codec: codec,
            pageSize: pageSize,
            dictionaryLimit: dictionaryLimit,
            keyValueMetadata: [("faceexport.run_id", "r1"), ("faceexport.pipeline", "nightly")],
            createdBy: "faceexport version test",
            continuing: rowGroups,
            at: offset,
            output: output
        )
    }

    static func append(_ row: Row, to writer: ParquetFileWriter) throws {
        try Array(row.group.utf8).withUnsafeBufferPointer { try writer.append($0, column: 0) }
        if let data = row.data {
            try Array(data.utf8).withUnsafeBufferPointer { try writer.append($0, column: 1) }
        } else {
            writer.appendNull(column: 1)
        }
        try writer.append(row.time, column: 2)
        try writer.append(Int64(row.days), column: 3)
        try writer.append(row.n, column: 4)
        writer.endRow()
    }

    @discardableResult
    static func write(
        _ rows: [Row],
        codec: ParquetCodec,
        rowsPerGroup: Int,
        pageSize: Int,
        dictionaryLimit: Int = 1 << 20,
        to path: String
    ) throws -> ParquetFileWriter {
        var bytes: [UInt8] = []
        let writer = try Self.writer(codec: codec, pageSize: pageSize, dictionaryLimit: dictionaryLimit) {
            bytes.append(contentsOf: $0)
        }
        for (index, row) in rows.enumerated() {
            try Self.append(row, to: writer)
            if (index + 1) % rowsPerGroup == 0 { try writer.finishRowGroup() }
        }
        try writer.finish()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return writer
    }

    /// What pyarrow and DuckDB read: per row the text columns as UTF-8 hex, the numbers as numbers.
    static let readBoth = """
        import json, sys, pyarrow.parquet as pq, duckdb
        def hexed(v): return None if v is None else v.encode('utf-8').hex()
        table = pq.read_table(sys.argv[1])
        arrow = [[hexed(r['group_id']), hexed(r['user_data']),
                  r['add_time'].timestamp() * 1000 if r['add_time'] is not None else None,
                  (r['add_date'] - __import__('datetime').date(1970, 1, 1)).days, r['n']]
                 for r in table.to_pylist()]
        con = duckdb.connect()
        duck = [[hexed(g), hexed(d), t, dd, n] for g, d, t, dd, n in con.execute(
            "SELECT group_id, user_data, epoch_ms(add_time), datediff('day', DATE '1970-01-01', add_date), n "
            "FROM read_parquet(?)", [sys.argv[1]]).fetchall()]
        meta = pq.ParquetFile(sys.argv[1]).metadata
        chunk = meta.row_group(0).column(4)
        text = meta.row_group(0).column(1)
        encodings = sorted({e for g in range(meta.num_row_groups) for e in meta.row_group(g).column(1).encodings})
        json.dump({
            "types": [str(t) for t in table.schema.types],
            "nullable": [f.nullable for f in table.schema],
            "arrow": arrow, "duckdb": duck,
            "duckdb_types": [r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [sys.argv[1]]).fetchall()],
            "row_groups": meta.num_row_groups, "rows": meta.num_rows,
            "codec": chunk.compression,
            "min": chunk.statistics.min, "max": chunk.statistics.max, "nulls": text.statistics.null_count,
            "text_has_min_max": text.statistics.has_min_max,
            "metadata": {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()},
            "created_by": meta.created_by,
            "encodings": encodings,
        }, sys.stdout)
        """

    static func hex(_ text: String?) -> String? {
        text.map { Array($0.utf8).map { String(format: "%02x", $0) }.joined() }
    }

    /// Every codec; a dictionary that holds every value, one that fills up within a row group (the
    /// rest PLAIN), or none.
    @Test(arguments: [
        (ParquetCodec.zstd(level: 3), 1 << 20), (.none, 1 << 20), (.zstd(level: 3), 120), (.none, 0),
        (.snappy, 120), (.gzip(.standard), 1 << 20), (.gzip(GzipCompression(engine: .zlib, level: 9)!), 0),
        (.gzip(GzipCompression(engine: .libdeflate, level: 12)!), 120),
    ])
    func everyValueComesBackByteForByteThroughPyarrowAndDuckDB(_ codec: ParquetCodec, dictionaryLimit: Int) throws {
        let path = try makeTemporaryDirectory() + "/faces.parquet"
        // Small pages and row groups: several of each, so readers cross their boundaries.
        try Self.write(
            Self.rows,
            codec: codec,
            rowsPerGroup: 17,
            pageSize: 200,
            dictionaryLimit: dictionaryLimit,
            to: path
        )
        let output = try PythonReaders.run(Self.readBoth, [path])
        let read = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let expected: [[Any?]] = Self.rows.map {
            [Self.hex($0.group), Self.hex($0.data), Double($0.time), Int($0.days), Int($0.n)]
        }
        for reader in ["arrow", "duckdb"] {
            let rows = try #require(read[reader] as? [[Any]])
            #expect(rows.count == expected.count, "\(reader)")
            for (got, want) in zip(rows, expected) {
                #expect(got[0] as? String == want[0] as? String, "\(reader) group_id")
                #expect((got[1] as? String) == (want[1] as? String), "\(reader) user_data")
                #expect((got[1] is NSNull) == (want[1] == nil), "\(reader) null user_data")
                #expect((got[2] as? NSNumber)?.doubleValue == want[2] as? Double, "\(reader) add_time")
                #expect((got[3] as? NSNumber)?.intValue == want[3] as? Int, "\(reader) add_date")
                #expect((got[4] as? NSNumber)?.int64Value == Int64(want[4] as! Int), "\(reader) n")
            }
        }
        #expect(read["types"] as? [String] == ["string", "string", "timestamp[ms, tz=UTC]", "date32[day]", "int64"])
        #expect(read["nullable"] as? [Bool] == [false, true, false, false, false])
        #expect(
            read["duckdb_types"] as? [String] == ["VARCHAR", "VARCHAR", "TIMESTAMP WITH TIME ZONE", "DATE", "BIGINT"]
        )
        #expect(read["row_groups"] as? Int == (Self.rows.count + 16) / 17)
        #expect(read["rows"] as? Int == Self.rows.count)
        let codecName =
            switch codec {
            case .none: "UNCOMPRESSED"
            case .snappy: "SNAPPY"
            case .gzip: "GZIP"
            case .zstd: "ZSTD"
            }
        #expect(read["codec"] as? String == codecName)
        let firstGroup = Self.rows.prefix(17)
        #expect((read["min"] as? NSNumber)?.int64Value == firstGroup.map(\.n).min())
        #expect((read["max"] as? NSNumber)?.int64Value == firstGroup.map(\.n).max())
        #expect(read["nulls"] as? Int == firstGroup.filter { $0.data == nil }.count)
        #expect(read["text_has_min_max"] as? Bool == true)
        #expect(read["metadata"] as? [String: String] == ["faceexport.run_id": "r1", "faceexport.pipeline": "nightly"])
        #expect(read["created_by"] as? String == "faceexport version test")
        let encodings = try #require(read["encodings"] as? [String])
        switch dictionaryLimit {
        case 0: #expect(encodings == ["PLAIN", "RLE"])
        case 120: #expect(encodings == ["PLAIN", "RLE", "RLE_DICTIONARY"], "a dictionary, then PLAIN")
        default: #expect(encodings.contains("RLE_DICTIONARY"))
        }
    }

    /// A Thrift compact-protocol reader written from its specification, apart from the writer: it
    /// reads the footer, then each chunk's `OffsetIndex` and `ColumnIndex`, and checks them against
    /// the pages they point at and the chunk's statistics.
    static let checkPageIndex = """
        import json, struct, sys
        data = open(sys.argv[1], 'rb').read()
        def varint(pos):
            shift = value = 0
            while True:
                byte = data[pos]; pos += 1
                value |= (byte & 0x7F) << shift; shift += 7
                if byte < 0x80: return value, pos
        def zigzag(v): return (v >> 1) ^ -(v & 1)
        def value(kind, pos):
            if kind in (1, 2): return kind == 1, pos
            if kind == 3: return data[pos], pos + 1
            if kind in (4, 5, 6): v, pos = varint(pos); return zigzag(v), pos
            if kind == 8: n, pos = varint(pos); return data[pos:pos + n], pos + n
            if kind == 9:
                header = data[pos]; pos += 1
                count, element = header >> 4, header & 0x0F
                if count == 15: count, pos = varint(pos)
                items = []
                for _ in range(count):
                    if element == 2: items.append(data[pos] == 1); pos += 1
                    else: item, pos = value(element, pos); items.append(item)
                return items, pos
            if kind == 12: return structure(pos)
            raise ValueError(f'type {kind}')
        def structure(pos):
            fields, last = {}, 0
            while True:
                header = data[pos]; pos += 1
                if header == 0: return fields, pos
                delta, kind = header >> 4, header & 0x0F
                if delta: last += delta
                else: v, pos = varint(pos); last = zigzag(v)
                fields[last], pos = value(kind, pos)
        footer_length = struct.unpack('<I', data[-8:-4])[0]
        meta, _ = structure(len(data) - 8 - footer_length)
        report = []
        for group in meta[4]:
            rows = group[3]
            for chunk in group[1]:
                offsets, _ = structure(chunk[4])
                locations = offsets[1]
                first_rows = [l[3] for l in locations]
                assert first_rows[0] == 0 and first_rows == sorted(first_rows), first_rows
                for l in locations:
                    header, end = structure(l[1])
                    assert header[1] == 0, 'a data page'
                    assert end - l[1] + header[3] == l[2], 'the size includes the header'
                    assert header[5][1] > 0
                assert sum(structure(l[1])[0][5][1] for l in locations) == rows
                entry = {'pages': len(locations), 'column_index': 6 in chunk}
                if 6 in chunk:
                    index, _ = structure(chunk[6])
                    assert len(index[1]) == len(index[2]) == len(index[3]) == len(locations)
                    statistics = chunk[3][12]
                    assert sum(index[5]) == statistics[3], 'null counts add up'
                    if chunk[3][1] == 2:
                        ints = lambda values: [struct.unpack('<q', v)[0] for v in values]
                        assert min(ints(index[2])) == ints([statistics[6]])[0]
                        assert max(ints(index[3])) == ints([statistics[5]])[0]
                    else:
                        assert min(index[2]) == statistics[6] and max(index[3]) == statistics[5]
                report.append(entry)
        json.dump(report, sys.stdout)
        """

    @Test func thePageIndexPointsAtEveryPageAndItsBoundsMatchTheStatistics() throws {
        let path = try makeTemporaryDirectory() + "/indexed.parquet"
        try Self.write(Self.rows, codec: .zstd(level: 3), rowsPerGroup: 40, pageSize: 150, to: path)
        let output = try PythonReaders.run(Self.checkPageIndex, [path])
        let chunks = try #require(try JSONSerialization.jsonObject(with: output) as? [[String: Any]])
        #expect(chunks.count == Self.columns.count * ((Self.rows.count + 39) / 40))
        #expect(chunks.contains { ($0["pages"] as? Int ?? 0) > 1 }, "several pages in a chunk")
        #expect(chunks.filter { $0["column_index"] as? Bool == true }.count >= chunks.count - 2)
        let flags = try PythonReaders.run(
            """
            import sys, pyarrow.parquet as pq
            m = pq.ParquetFile(sys.argv[1]).metadata
            print(all(m.row_group(g).column(c).has_offset_index for g in range(m.num_row_groups) for c in range(5)))
            """,
            [path]
        )
        #expect(String(decoding: flags, as: UTF8.self) == "True\n", "pyarrow sees every offset index")
    }

    @Test func duckDBProbesTheBloomFiltersAndFindsEveryValueWhereItIs() throws {
        let path = try makeTemporaryDirectory() + "/bloom.parquet"
        try Self.write(Self.rows, codec: .zstd(level: 3), rowsPerGroup: 40, pageSize: 1 << 20, to: path)
        let present = Self.rows.enumerated().compactMap { index, row in row.data.map { (index / 40, $0) } }
        let absent = (0..<200).map { "not-in-the-file-\($0)" }
        let probe = """
            import json, sys, duckdb
            con = duckdb.connect()
            values = json.load(open(sys.argv[2]))
            out = [[r[0], r[1]] for v in values for r in con.execute(
                "SELECT row_group_id, bloom_filter_excludes FROM parquet_bloom_probe(?, 'user_data', ?) "
                "ORDER BY row_group_id", [sys.argv[1], v]).fetchall()]
            json.dump(out, sys.stdout)
            """
        let valuesPath = path + ".json"
        let values = present.map(\.1) + absent
        try JSONSerialization.data(withJSONObject: values).write(to: URL(fileURLWithPath: valuesPath))
        let output = try PythonReaders.run(probe, [path, valuesPath])
        let answers = try #require(try JSONSerialization.jsonObject(with: output) as? [[Any]])
        let groups = (Self.rows.count + 39) / 40
        #expect(answers.count == values.count * groups)
        for (index, (group, _)) in present.enumerated() {
            let answer = answers[index * groups + group]
            #expect(answer[1] as? Bool == false, "a value is never excluded from its own row group")
        }
        let absentAnswers = answers[(present.count * groups)...]
        let excluded = absentAnswers.filter { $0[1] as? Bool == true }.count
        #expect(
            excluded * 100 >= absentAnswers.count * 95,
            "about 1% false positives: \(excluded) of \(absentAnswers.count)"
        )
    }

    /// Ten row groups of 8,200 rows: library ids from ten keep their dictionary in every one. Text
    /// unique in the first six goes PLAIN after the first row group's trial (the trial's values in
    /// the dictionary, the rest PLAIN), is written PLAIN from the first value in the next seven, and
    /// is tried again in the ninth, where it repeats and keeps its dictionary. Every value comes back.
    @Test func aDictionaryThatDoesNotPayIsLeftOutForSevenRowGroupsThenTriedAgain() throws {
        let path = try makeTemporaryDirectory() + "/trial.parquet"
        let rowsPerGroup = 8200
        let rows = (0..<10 * rowsPerGroup).map { index in
            let data = index < 6 * rowsPerGroup ? "face-\(index)-é" : "same-\(index % 7)"
            return Row(group: "g\(index % 10)", data: data, time: Int64(index), days: 1, n: Int64(index))
        }
        let writer = try Self.write(
            rows,
            codec: .zstd(level: 1),
            rowsPerGroup: rowsPerGroup,
            pageSize: 1 << 20,
            to: path
        )
        let fellBack = writer.rowGroups(from: 0).map { group in group.columns.map(\.dictionaryFellBack) }
        #expect(fellBack.map { $0[0] } == Array(repeating: false, count: 10), "library ids keep their dictionary")
        #expect(fellBack.map { $0[1] } == [true] + Array(repeating: false, count: 9))
        let output = try PythonReaders.run(
            """
            import json, sys, pyarrow.parquet as pq
            f = pq.ParquetFile(sys.argv[1])
            m = f.metadata
            t = f.read()
            json.dump({
                "dictionary": [[m.row_group(g).column(c).has_dictionary_page for c in (0, 1)] for g in range(m.num_row_groups)],
                "encodings": [sorted(m.row_group(g).column(1).encodings) for g in range(m.num_row_groups)],
                "groups": t.column("group_id").to_pylist(), "data": t.column("user_data").to_pylist(),
            }, sys.stdout)
            """,
            [path]
        )
        let read = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let dictionary = try #require(read["dictionary"] as? [[Bool]])
        #expect(dictionary.map { $0[0] } == Array(repeating: true, count: 10))
        #expect(
            dictionary.map { $0[1] } == [true] + Array(repeating: false, count: 7) + [true, true],
            "tried in the first row group, PLAIN in the next seven, tried again in the ninth"
        )
        let encodings = try #require(read["encodings"] as? [[String]])
        #expect(encodings[0] == ["PLAIN", "RLE", "RLE_DICTIONARY"], "the trial's indices, then PLAIN")
        #expect(encodings[1] == ["PLAIN", "RLE"], "values PLAIN, definition levels RLE")
        #expect(read["groups"] as? [String] == rows.map(\.group))
        #expect(read["data"] as? [String] == rows.map { $0.data! })
        // The chunks themselves: the unique column's dictionary stopped at the trial.
        let compressor = try ParquetPageCompressor(codec: .none)
        var unique = ParquetColumnChunk(column: Self.columns[1], dictionaryLimit: 1 << 20, pageSize: 1 << 20)
        var repeated = ParquetColumnChunk(column: Self.columns[0], dictionaryLimit: 1 << 20, pageSize: 1 << 20)
        for row in rows.prefix(20_000) {
            Array(row.data!.utf8).withUnsafeBufferPointer { unique.append($0) }
            if unique.mustFinishPage { try unique.finishPage(compressor) }
            Array(row.group.utf8).withUnsafeBufferPointer { repeated.append($0) }
        }
        try unique.finishPage(compressor)
        try repeated.finishPage(compressor)
        #expect(unique.dictionary?.count == ParquetColumnChunk.dictionaryTrialValues)
        #expect(unique.dataEncodings == [0, 8], "PLAIN after the dictionary's pages")
        #expect(repeated.dictionary?.count == 10 && repeated.dataEncodings == [8])
    }

    /// A writer continuing the file after any of those row groups, from their journal records,
    /// decides as the first would have: the same file, byte for byte.
    @Test func aWriterResumedBetweenRowGroupsMakesTheSameDictionaryChoices() throws {
        let rowsPerGroup = 8200
        let rows = (0..<10 * rowsPerGroup).map { index in
            Row(group: "g\(index % 10)", data: "face-\(index)", time: Int64(index), days: 1, n: Int64(index))
        }
        var reference: [UInt8] = []
        let first = try Self.writer(into: { reference.append(contentsOf: $0) })
        var ends: [(offset: Int64, rowGroups: [String])] = []
        for (index, row) in rows.enumerated() {
            try Self.append(row, to: first)
            if (index + 1) % rowsPerGroup == 0 {
                try first.finishRowGroup()
                ends.append((first.offset, first.rowGroups(from: 0).map(ParquetRowGroupRecord.encode)))
            }
        }
        try first.finish()
        for resumed in [0, 1, 6, 7, 8] {
            var bytes = Array(reference[..<Int(ends[resumed].offset)])
            let second = try Self.writer(
                continuing: ends[resumed].rowGroups.map { try #require(ParquetRowGroupRecord.decode($0)) },
                at: ends[resumed].offset,
                into: { bytes.append(contentsOf: $0) }
            )
            for (index, row) in rows.enumerated().dropFirst((resumed + 1) * rowsPerGroup) {
                try Self.append(row, to: second)
                if (index + 1) % rowsPerGroup == 0 { try second.finishRowGroup() }
            }
            try second.finish()
            let same = bytes == reference  // not the bytes themselves in a failure's message
            #expect(same, "resumed after row group \(resumed)")
        }
    }

    @Test func aFileWithoutRowsIsReadAsEmptyWithItsSchema() throws {
        let path = try makeTemporaryDirectory() + "/empty.parquet"
        try Self.write([], codec: .zstd(level: 3), rowsPerGroup: 10, pageSize: 1 << 20, to: path)
        let output = try PythonReaders.run(
            "import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(t.num_rows, len(t.schema))",
            [path]
        )
        #expect(String(decoding: output, as: UTF8.self) == "0 5\n")
    }

    /// Bounds order bytes unsigned, first differing byte first, a prefix before what extends it:
    /// whether the values differ in their first eight bytes, in a later word, or in a last byte.
    @Test func boundsOrderBytesUnsignedWhereverTheyDiffer() {
        let values = [
            "", "a", "abcdefgh", "abcdefgh\u{0}", "abcdefghi", "abcdefgi", "abcdefgé", "abcdefgéz", "b", "é", "ér",
            "\u{7F}", "\u{80}", "\u{10FFFF}", "2026-12-07T04:40:00.000Z", "2026-12-07T04:40:00.001Z",
            "2026-12-07T04:41:00.000Z", "2026-12-07T04:40:00.000", "abcdefghijklmnop", "abcdefghijklmnoé",
        ].map { Array($0.utf8) }
        for first in values {
            for second in values {
                let order = first.withUnsafeBufferPointer { ParquetStatistics.compare($0, second) }
                let expected = first == second ? 0 : first.lexicographicallyPrecedes(second) ? -1 : 1
                #expect(order.signum() == expected, "\(first) against \(second)")
            }
        }
        var statistics = ParquetStatistics()
        for value in values.shuffled() { value.withUnsafeBufferPointer { statistics.add($0) } }
        #expect(statistics.minimumBytes == [] && statistics.maximumBytes == Array("\u{10FFFF}".utf8))
    }

    /// Values that repeat, alternate and come back keep their dictionary indices: the shortcut for a
    /// value like the one before it never gives a value another's index.
    @Test func repeatedAndAlternatingValuesKeepTheirDictionaryIndices() throws {
        let compressor = try ParquetPageCompressor(codec: .none)
        var chunk = ParquetColumnChunk(column: Self.columns[0], dictionaryLimit: 1 << 20, pageSize: 1 << 20)
        let values = ["g1", "g1", "g1", "g2", "g1", "g1", "g10", "g2", "g2", "", "", "g1"]
        for value in values { Array(value.utf8).withUnsafeBufferPointer { chunk.append($0) } }
        try chunk.finishPage(compressor)
        let dictionary = try #require(chunk.dictionary)
        #expect(dictionary.count == 4)
        let indices = values.map { value in
            (0..<UInt32(dictionary.count)).first { index in
                Array(value.utf8).withUnsafeBufferPointer { dictionary.holds(index, equalTo: $0) }
            }
        }
        #expect(indices == [0, 0, 0, 1, 0, 0, 2, 1, 1, 3, 3, 0])
        // The page holds exactly those indices, RLE/bit-packed at two bits after its width byte.
        var expected = ThriftCompactWriter()
        expected.append(2)
        ParquetHybridEncoding.encode(indices.map { $0! }, bitWidth: 2, into: &expected)
        let page = try #require(chunk.pages.first)
        #expect(Array(page.suffix(expected.bytes.count)) == expected.bytes)
    }

    @Test func truncatedBoundsStayValidUTF8AndStillBoundTheValues() {
        let long = Array((String(repeating: "é", count: 40) + "z").utf8)
        let minimum = ParquetStatistics.truncatedMinimum(long)
        #expect(minimum.count <= ParquetStatistics.maximumLength)
        #expect(String(validating: minimum, as: UTF8.self) != nil)
        #expect(long.starts(with: minimum))
        let ascii = Array(String(repeating: "a", count: 100).utf8)
        let maximum = try! #require(ParquetStatistics.truncatedMaximum(ascii))
        #expect(maximum.count == ParquetStatistics.maximumLength)
        #expect(maximum.lexicographicallyPrecedes(ascii) == false)
        #expect(String(validating: maximum, as: UTF8.self) != nil)
        // No ASCII byte to raise in the first 64 bytes: no maximum rather than a wrong one.
        #expect(ParquetStatistics.truncatedMaximum(long) == nil)
    }
}

/// A Parquet output is written row group by row group and resumed from the last one its journal
/// vouches for: wherever the run died, the file it ends with is the file of a run that never did.
struct ParquetResumeTests {
    static let source = RecordSource(account: "a", groupID: "g0")

    /// Pages of the hard records, in a hundred batches of a few rows each.
    static var batches: [[StandardRecord]] {
        let records = StandardRecord.hardRecords()
        return (0..<100).map { batch in
            (0..<(batch % 4 + 2)).map { index in
                var record = records[(batch * 5 + index) % records.count]
                record.faceToken = "token-\(batch)-\(index)"
                return record
            }
        }
    }

    static func sink(_ path: String) throws -> OutputSink {
        // Row groups of a few pages: many in the file, and checkpoints both between and at them.
        try SinkTests.sink(.parquet, path) { $0.rowGroupBytes = 3000 }
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The uninterrupted file and the checkpoint after each batch.
    static func reference(_ folder: String) throws -> (bytes: [UInt8], checkpoints: [FileCheckpoint]) {
        let sink = try Self.sink(folder + "/reference.parquet")
        var checkpoints: [FileCheckpoint] = []
        for batch in Self.batches {
            try sink.write(batch, from: Self.source)
            checkpoints.append(try #require(try sink.checkpoint(Self.source, finished: false)))
        }
        _ = try sink.commit(CommitContext.sample())
        return (try Self.bytes(folder + "/reference.parquet"), checkpoints)
    }

    /// What the journal gives a resumed run after batch `crash`: the last checkpoint that vouches
    /// for the file, with every row group's record up to it; nil when none does yet.
    static func resumePoint(_ checkpoints: ArraySlice<FileCheckpoint>) -> (batch: Int, checkpoint: FileCheckpoint)? {
        guard let last = checkpoints.lastIndex(where: \.isExact) else { return nil }
        var checkpoint = checkpoints[last]
        checkpoint.parquetRowGroups = checkpoints[...last].flatMap { $0.isExact ? $0.parquetRowGroups ?? [] : [] }
        return (last, checkpoint)
    }

    @Test func aFileResumedAfterAnyPageIsByteForByteTheFileOfARunNeverInterrupted() throws {
        let folder = try makeTemporaryDirectory()
        let reference = try Self.reference(folder)
        let exact = reference.checkpoints.filter(\.isExact)
        #expect(exact.count >= 10, "row groups end during the run")
        #expect(reference.checkpoints.count - exact.count >= 30, "and rows wait for them in between")
        let rowGroups = reference.checkpoints.reduce(0) { $0 + ($1.parquetRowGroups?.count ?? 0) }
        let read = try PythonReaders.run(
            "import sys, pyarrow.parquet as pq; m = pq.ParquetFile(sys.argv[1]).metadata; print(m.num_row_groups, m.num_rows)",
            [folder + "/reference.parquet"]
        )
        let rows = Self.batches.reduce(0) { $0 + $1.count }
        #expect(
            String(decoding: read, as: UTF8.self) == "\(rowGroups + 1) \(rows)\n",
            "the last row group comes at the end"
        )

        let batches = Self.batches
        for crash in batches.indices {
            let path = folder + "/resumed-\(crash).parquet"
            let first = try Self.sink(path)
            var taken: [FileCheckpoint] = []
            for batch in batches[...crash] {
                try first.write(batch, from: Self.source)
                taken.append(try #require(try first.checkpoint(Self.source, finished: false)))
            }
            // The crash: the first sink is gone; its temporary file stays, longer than the checkpoint.
            let second = try Self.sink(path)
            var next = 0
            if let point = Self.resumePoint(taken[...]) {
                try second.resume([point.checkpoint])
                next = point.batch + 1
            }
            for batch in batches[next...] { try second.write(batch, from: Self.source) }
            _ = try second.commit(CommitContext.sample())
            #expect(try Self.bytes(path) == reference.bytes, "resumed after batch \(crash)")
        }
    }

    /// A file per library, finished when its library ended and then interrupted before the commit:
    /// the resumed run writes its footer again, the same.
    @Test func aFinishedFileResumedBeforeTheCommitGetsTheSameFooter() throws {
        let folder = try makeTemporaryDirectory()
        let template = folder + "/group={group}/part.parquet"
        let reference = try Self.sink(template)
        for batch in Self.batches.prefix(20) { try reference.write(batch, from: Self.source) }
        try reference.groupFinished(Self.source)
        let checkpoint = try #require(try reference.checkpoint(Self.source, finished: true))
        #expect(checkpoint.finished && checkpoint.isExact)
        let temporary = try FileManager.default.contentsOfDirectory(atPath: folder + "/group=g0")
        #expect(temporary.count == 1 && temporary[0].hasPrefix(".part.parquet.tmp-"))
        let finished = try Self.bytes(folder + "/group=g0/" + temporary[0])

        let resumed = try Self.sink(template)
        try resumed.resume([checkpoint])
        _ = try resumed.commit(CommitContext.sample())
        #expect(try Self.bytes(folder + "/group=g0/part.parquet") == finished)
    }

    /// A journal whose row groups do not add up to its checkpoint, have other columns than the
    /// pipeline's, or cannot be read, is refused with a line that says to start over.
    @Test func rowGroupsThatDoNotAddUpAreRefused() throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.parquet"
        let sink = try Self.sink(path)
        var checkpoints: [FileCheckpoint] = []
        for batch in Self.batches.prefix(30) {
            try sink.write(batch, from: Self.source)
            checkpoints.append(try #require(try sink.checkpoint(Self.source, finished: false)))
        }
        var point = try #require(Self.resumePoint(checkpoints[...])).checkpoint
        #expect(point.parquetRowGroups?.count ?? 0 >= 2)
        let records = point.parquetRowGroups ?? []
        var narrower = try #require(ParquetRowGroupRecord.decode(records[0]))
        narrower.columns.removeLast()
        point.parquetRowGroups = [ParquetRowGroupRecord.encode(narrower)] + records.dropFirst()
        #expect {
            try Self.sink(path).resume([point])
        } throws: { error in
            "\(error)".contains("describes a row group of 5 columns, not the 6 of this pipeline")
        }
        point.parquetRowGroups = Array(records.dropFirst())
        #expect {
            try Self.sink(path).resume([point])
        } throws: { error in
            "\(error)".contains("does not describe the \(point.rows) rows") && "\(error)".contains("without --resume")
        }
        point.parquetRowGroups = ["01zz"]
        #expect {
            try Self.sink(path).resume([point])
        } throws: { error in
            "\(error)".contains("row group this version cannot read")
        }
    }
}
