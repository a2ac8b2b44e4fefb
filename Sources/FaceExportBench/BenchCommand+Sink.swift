import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
import Foundation
import Logging
import PipelineFile

/// The sink scenarios: a million records through one sink alone, no network.
extension BenchCommand {
    /// Ten pages of records made up front, each row without its library id (the maker puts it
    /// first): written over and over under a new library id every ten pages, so the figures are the
    /// sink's, not the generator's.
    static func sinkPages() -> [[[FieldValue]]] {
        var random = SplitMix64(seed: 7)
        let strings = DatasetGenerator.hardStrings
        return (0..<10).map { pageIndex in
            (0..<1000).map { index in
                let time = 1_767_225_600_000 + Int64(pageIndex * 1000 + index) * 1000
                return [
                    .text(String(random.next(), radix: 16) + String(random.next(), radix: 16)),
                    .text("u-\(random.next() % 10_000_000)"),
                    .text(strings[Int(random.next() % UInt64(strings.count))]),
                    .integer(time),
                    .text(Timestamp.formatRFC3339UTC(milliseconds: time)),
                ]
            }
        }
    }

    /// Every face of `groups` libraries of 1,000 of --data, as the transformer hands them to the
    /// sinks: one page of rows per library.
    func datasetPages(groups: Int, seed: UInt64) throws -> [(group: String, rows: RecordRows)] {
        var generator = DatasetGenerator(groups: groups, faces: 1000, sizing: .exact, seed: seed)
        if self.data == "realistic" { generator.realistic = try self.realisticFaces() }
        return generator.make().groups.map { group in
            var rows = RecordRows(width: RecordSchema.standard.columns.count, capacity: group.faces.count)
            for face in group.faces {
                rows.append(row: [
                    .text(group.groupID), .text(face.faceToken), .text(face.userID), .text(face.userData),
                    .integer(face.addTime), .text(Timestamp.formatRFC3339UTC(milliseconds: face.addTime)),
                ])
            }
            return (group.groupID, rows)
        }
    }

    /// The sinks scenario: the same pages of --data through each of --cpu-formats' sinks in turn.
    func sinks() throws -> [BenchResult] {
        let pages = try self.datasetPages(groups: self.cpuGroups, seed: 1)
        return try self.cpuFormats.split(separator: ",").map { name in
            guard let output = Self.namedOutputs[String(name)] else {
                throw ValidationError(
                    "--cpu-formats: the sinks scenario takes \(Self.namedOutputs.keys.sorted().joined(separator: ", "))"
                )
            }
            let result = try self.sinkAlone(output.format, file: output.file, name: "sinks-\(name)", pages: pages) {
                if let codec = output.codec { $0.parquetCodec = codec }
            }
            FileHandle.standardError.write(Data(result.line.utf8))
            return result
        }
    }

    /// Writes records through one sink, in pages of 1,000, and measures it: `pages` when given,
    /// `records` generated ones otherwise.
    func sinkAlone(
        _ format: OutputSink.Format,
        file: String,
        name: String? = nil,
        pages madePages: [(group: String, rows: RecordRows)]? = nil,
        configure: (inout OutputSink.Configuration) -> Void = { _ in }
    ) throws -> BenchResult {
        let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var output = OutputSink.Configuration(format: format, path: try OutputPathTemplate(folder + "/" + file))
        output.compression = try self.gzipCompression()
        configure(&output)
        let sink = OutputSink(configuration: output, run: .init(date: "2026-01-01", runID: "bench", pipeline: "bench"))
        let pages = Self.sinkPages()
        ResourceUsage.resetPeak()
        // The pages are made on another thread, as the transformer stage makes them for the sink stage
        // in a run: the sink's thread only writes.
        let records = self.records
        let handed = BoundedQueue<(group: String, rows: RecordRows)>(capacity: 4)
        // A sink that fails leaves the maker waiting on a full queue: cancelling lets it go.
        defer { handed.cancel() }
        DispatchQueue(label: "faceexport.bench.pages").async {
            defer { handed.close() }
            if let madePages {
                for page in madePages { guard handed.push(page) else { return } }
                return
            }
            var made = 0
            while made < records {
                let group = "grp-\(made / 10_000)"
                let template = pages[(made / 1000) % pages.count]
                let count = min(template.count, records - made)
                var page = RecordRows(width: RecordSchema.standard.columns.count, capacity: count)
                for row in template.prefix(count) {
                    page.appendText(group)
                    for value in row { page.append(value) }
                }
                guard handed.push((group, page)) else { return }
                made += count
            }
        }
        let before = ResourceUsage.now()
        let started = Date()
        var written = 0
        var sinkCPU = 0.0
        while let (group, page) = handed.pop() {
            let before = ResourceUsage.threadCPUSeconds()
            try sink.write(page, from: RecordSource(account: "bench", groupID: group))
            sinkCPU += ResourceUsage.threadCPUSeconds() - before
            written += page.count
        }
        let context = CommitContext(
            runID: "bench",
            pipeline: "bench",
            startedAt: "",
            finishedAt: "",
            outcome: "complete",
            groups: [],
            pages: 0,
            requests: 0,
            retries: 0
        )
        let loaded = Date().timeIntervalSince(started)
        let commitStarted = ResourceUsage.threadCPUSeconds()
        let summary = try sink.commit(context)
        sinkCPU += ResourceUsage.threadCPUSeconds() - commitStarted
        let wall = Date().timeIntervalSince(started)
        let after = ResourceUsage.now()
        var result = BenchResult(
            scenario: name ?? "sink-\(format.rawValue)",
            measured: .init(
                faces: written,
                wallSeconds: wall,
                from: before,
                to: after
            ),
            statistics: SimulatorStatistics()
        )
        result.figures["rows_per_second"] = Double(written) / wall
        // The sink's own work: CPU inside its calls (it works synchronously on this thread), without the
        // harness's copying of pre-made rows.
        result.figures["sink_cpu_seconds"] = sinkCPU
        result.figures["rows_per_sink_cpu_second"] = Double(written) / sinkCPU
        result.figures["commit_seconds"] = wall - loaded
        result.figures["cpu_seconds_per_million_rows"] = (after.cpuSeconds - before.cpuSeconds) / Double(written) * 1e6
        result.figures["sink_cpu_seconds_per_million_rows"] = sinkCPU / Double(written) * 1e6
        result.figures["file_megabytes"] = Double(summary.first?.bytes ?? 0) / 1_048_576
        return result
    }
}
