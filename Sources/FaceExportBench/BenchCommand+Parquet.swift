import ExportSinks
import FaceSearchSimulation
import Foundation

/// The Parquet writer on its own, without the output around it (the temporary file, its digest, the
/// checkpoints): the sink scenarios' records in the standard columns, in row groups of 128 Ki rows.
extension BenchCommand {
    func parquetWriterAlone(codec: ParquetCodec, name: String) throws -> BenchResult {
        let path = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString + ".parquet"
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let file = fopen(path, "wb") else { throw BenchFailure("cannot create \(path)") }
        defer { fclose(file) }
        let columns = [
            ParquetColumn(name: "group_id", type: .byteArray, logicalType: .string),
            ParquetColumn(name: "face_token", type: .byteArray, logicalType: .string, hasBloomFilter: true),
            ParquetColumn(name: "user_id", type: .byteArray, logicalType: .string, hasBloomFilter: true),
            ParquetColumn(name: "user_data", type: .byteArray, logicalType: .string),
            ParquetColumn(name: "add_time", type: .int64, logicalType: .timestampMillisUTC),
            ParquetColumn(name: "add_time_utc", type: .byteArray, logicalType: .string),
        ]
        let writer = try ParquetFileWriter(columns: columns, codec: codec, createdBy: "faceexport-bench") {
            (bytes) throws(SinkError) in
            if fwrite(bytes.baseAddress, 1, bytes.count, file) != bytes.count {
                throw SinkError.io("write", path: path, errno: errno)
            }
        }
        let templates = Self.sinkPages()
        ResourceUsage.resetPeak()
        let before = ResourceUsage.now()
        let started = Date()
        var writerCPU = 0.0
        var written = 0
        while written < self.records {
            let group = Array("grp-\(written / 10_000)".utf8)
            let template = templates[(written / 1000) % templates.count]
            let count = min(template.count, self.records - written)
            var page = RecordRows(width: 5, capacity: count)
            for row in template.prefix(count) { page.append(row: row) }
            let pageStarted = ResourceUsage.threadCPUSeconds()
            try page.withReader { (reader) throws(SinkError) in
                for row in 0..<reader.count {
                    try group.withUnsafeBufferPointer { (bytes) throws(SinkError) in try writer.append(bytes, column: 0)
                    }
                    for column in 0..<reader.width {
                        switch reader.cell(row: row, column: column) {
                        case .integer(let number): try writer.append(number, column: column + 1)
                        case let text: try writer.append(reader.bytes(of: text), column: column + 1)
                        }
                    }
                    writer.endRow()
                    if writer.pendingRows == 128 << 10 { try writer.finishRowGroup() }
                }
            }
            writerCPU += ResourceUsage.threadCPUSeconds() - pageStarted
            written += count
        }
        let finishStarted = ResourceUsage.threadCPUSeconds()
        try writer.finish()
        writerCPU += ResourceUsage.threadCPUSeconds() - finishStarted
        let wall = Date().timeIntervalSince(started)
        let after = ResourceUsage.now()
        var result = BenchResult(
            scenario: name,
            measured: .init(
                faces: written,
                wallSeconds: wall,
                from: before,
                to: after
            ),
            statistics: SimulatorStatistics()
        )
        result.figures["writer_cpu_seconds_per_million_rows"] = writerCPU / Double(written) * 1e6
        result.figures["file_megabytes"] = Double(writer.offset) / 1_048_576
        return result
    }
}
