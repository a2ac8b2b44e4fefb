import ExportPipeline
import ExportSinks
import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// Parquet outputs of whole runs, read by pyarrow, DuckDB, fastparquet and polars: every row the
/// NDJSON output of the same run holds, byte for byte, with the declared types.
@Suite(.timeLimit(.minutes(10)))
struct ParquetOutputTests {
    /// Every row of the Parquet files under `paths`, as the NDJSON rows the tests compare, read by
    /// `reader` (`arrow` or `duckdb`).
    static func rows(_ paths: [String], reader: String) throws -> [OutputRow] {
        let script = """
            import json, sys, duckdb, fastparquet, polars as pl, pyarrow as pa, pyarrow.parquet as pq
            out = []
            for path in sys.argv[2:]:
                if sys.argv[1] == 'arrow':
                    t = pq.ParquetFile(path).read()
                    assert [str(x) for x in t.schema.types] == ['string', 'string', 'string', 'string',
                        'timestamp[ms, tz=UTC]', 'string'], t.schema
                    t = t.set_column(4, 'add_time', t.column(4).cast(pa.int64()))
                    rows = [[r['group_id'], r['face_token'], r['user_id'], r['user_data'], r['add_time'],
                             r['add_time_utc']] for r in t.to_pylist()]
                elif sys.argv[1] == 'fastparquet':
                    df = fastparquet.ParquetFile(path).to_pandas()
                    times = df['add_time'].values.astype('datetime64[ms]').astype('int64').tolist()
                    rows = [[g, f, u, d, t, c] for g, f, u, d, t, c in zip(df['group_id'], df['face_token'],
                            df['user_id'], df['user_data'], times, df['add_time_utc'])]
                elif sys.argv[1] == 'polars':
                    df = pl.read_parquet(path, hive_partitioning=False)
                    assert str(df.schema['add_time']) == "Datetime(time_unit='ms', time_zone='UTC')", df.schema
                    rows = df.with_columns(pl.col('add_time').dt.epoch('ms')).rows()
                else:
                    rows = duckdb.execute("SELECT group_id, face_token, user_id, user_data, epoch_ms(add_time), "
                                          "add_time_utc FROM read_parquet(?, hive_partitioning = false)", [path]).fetchall()
                out += [[v.encode('utf-8').hex() if isinstance(v, str) else v for v in r] for r in rows]
            json.dump(out, sys.stdout)
            """
        let output = try PythonReaders.run(script, [reader] + paths)
        let rows = try #require(try JSONSerialization.jsonObject(with: output) as? [[Any]])
        func bytes(_ value: Any) -> [UInt8] {
            let hex = Array((value as? String ?? "").utf8)
            return stride(from: 0, to: hex.count, by: 2).map {
                UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)!
            }
        }
        return rows.map { row in
            OutputRow(
                groupID: bytes(row[0]),
                faceToken: String(decoding: bytes(row[1]), as: UTF8.self),
                userID: bytes(row[2]),
                userData: bytes(row[3]),
                addTime: (row[4] as? NSNumber)?.int64Value ?? -1,
                addTimeUTC: String(decoding: bytes(row[5]), as: UTF8.self)
            )
        }
    }

    /// The columns with a bloom filter in the file at `path`, as DuckDB's `parquet_metadata` reports them.
    static func columnsWithBloomFilters(_ path: String) throws -> Set<String> {
        let script = """
            import json, sys, duckdb
            json.dump(sorted({r[0] for r in duckdb.execute("SELECT path_in_schema FROM parquet_metadata(?) "
                      "WHERE bloom_filter_offset IS NOT NULL", [sys.argv[1]]).fetchall()}), sys.stdout)
            """
        return Set(try #require(try JSONSerialization.jsonObject(with: PythonReaders.run(script, [path])) as? [String]))
    }

    /// One file in zstd (the default), one per library in snappy, gzip or none (and no bloom filters).
    @Test(arguments: [ParquetCodec.snappy, .gzip(.standard), .none])
    func aRunsParquetFilesHoldEveryFaceOfItsNDJSONByteForByte(_ perLibraryCodec: ParquetCodec) async throws {
        let dataset = DatasetGenerator(groups: 9, faces: 250, sizing: .mixed, seed: 25).make()
        let folder = try makeTemporaryDirectory()
        var perLibrary = OutputSink.Configuration(
            format: .parquet,
            path: try OutputPathTemplate(folder + "/group={group}/part.parquet")
        )
        perLibrary.parquetCodec = perLibraryCodec
        perLibrary.parquetBloomFilters = perLibraryCodec != .none
        let result = try await exportFromSimulator(
            dataset: dataset,
            pipeline: { $0.pageSize = 100 },
            outputPath: folder + "/faces.ndjson",
            extraOutputs: [
                .init(format: .parquet, path: try OutputPathTemplate(folder + "/faces.parquet")), perLibrary,
            ]
        )
        #expect(result.report.outcome == .complete)
        let ndjson = Set(result.rows)
        #expect(ndjson.count == dataset.faceCount)
        let perGroup = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("group=") }
            .map { folder + "/" + $0 + "/part.parquet" }
        #expect(perGroup.count == dataset.groups.filter { !$0.faces.isEmpty }.count)
        // Four independent readers: Arrow's C++, DuckDB's own, fastparquet (Python), polars (Rust).
        for reader in ["arrow", "duckdb", "fastparquet", "polars"] {
            let single = try Self.rows([folder + "/faces.parquet"], reader: reader)
            #expect(single.count == dataset.faceCount, "\(reader)")
            #expect(Set(single) == ndjson, "\(reader): one file")
            let split = try Self.rows(perGroup, reader: reader)
            #expect(split.count == dataset.faceCount && Set(split) == ndjson, "\(reader): a file per library")
        }
        #expect(try Self.columnsWithBloomFilters(folder + "/faces.parquet") == ["face_token", "user_id"])
        #expect(
            try Self.columnsWithBloomFilters(perGroup[0])
                == (perLibraryCodec == .none ? [] : ["face_token", "user_id"])
        )
        let parquet = result.report.files.filter { $0.format == "parquet" }
        #expect(parquet.reduce(0) { $0 + $1.rows } == 2 * dataset.faceCount)
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "no spool or temporary file stays: \(leftovers)")
    }
}
