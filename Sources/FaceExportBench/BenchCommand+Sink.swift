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

    /// Writes `records` generated records through one sink, in pages of 1,000, and measures it.
    func sinkAlone(_ format: OutputSink.Format, file: String) throws -> BenchResult {
        let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var output = OutputSink.Configuration(format: format, path: try OutputPathTemplate(folder + "/" + file))
        output.compression = try self.gzipCompression()
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
            scenario: "sink-\(format.rawValue)",
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
        result.figures["file_megabytes"] = Double(summary.first?.bytes ?? 0) / 1_048_576
        return result
    }
}
