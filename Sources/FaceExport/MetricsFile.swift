public import ExportPipeline
import ExportSinks
import FaceExportBuild
public import Foundation

/// The run's figures in Prometheus text format, for node_exporter's textfile collector.
///
/// Every value describes the last run of the pipeline (gauges); labels are the pipeline's name and
/// fixed enumerations (status, outcome), so their number is bounded.
/// `faceexport_last_success_timestamp_seconds` carries over from the previous file when a run fails.
public struct MetricsFile {
    /// Where the file goes; written whole (a temporary file renamed), read by the collector.
    public let path: String
    /// The pipeline's name, the `pipeline` label of every sample.
    public let pipeline: String

    /// Creates a writer of `path` for `pipeline`.
    public init(path: String, pipeline: String) {
        self.path = path
        self.pipeline = pipeline
    }

    /// Writes the figures of `report`, finished at `now`.
    public func write(_ report: RunReport, now: Date = Date()) throws {
        let pipeline = "pipeline=\(Self.labelValue(self.pipeline))"
        var lastSuccess = self.previousLastSuccess()
        if report.outcome == .complete { lastSuccess = now.timeIntervalSince1970 }
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            lines.append("# HELP faceexport_\(name) \(help)")
            lines.append("# TYPE faceexport_\(name) gauge")
            for sample in samples {
                let value =
                    sample.value.rounded() == sample.value && abs(sample.value) < 1e15
                    ? String(Int64(sample.value)) : String(sample.value)
                lines.append(
                    "faceexport_\(name){\(pipeline)\(sample.labels.isEmpty ? "" : "," + sample.labels)} \(value)"
                )
            }
        }
        gauge(
            "build_info",
            "The faceexport that wrote these figures: 1, with its version as a label.",
            [("version=\(Self.labelValue(ExporterVersion.full))", 1)]
        )
        gauge("faces_exported", "Faces the last run wrote.", [("", Double(report.faces))])
        gauge("faces_filtered", "Faces the last run's transform filter left out.", [("", Double(report.filtered))])
        gauge("pages_exported", "Pages the last run received.", [("", Double(report.pages))])
        gauge(
            "requests",
            "Calls the last run made, by outcome.",
            ["ok", "retryable_error", "group_error", "run_error"].map {
                ("outcome=\"\($0)\"", Double(report.attemptsByOutcome[$0, default: 0]))
            }
        )
        gauge("retries", "Calls the last run retried.", [("", Double(report.retries))])
        gauge(
            "repaired_text_faces",
            "Faces of the last run whose text was not valid UTF-8, exported with U+FFFD in its place.",
            [("", Double(report.repairedText))]
        )
        gauge("rate_limited_requests", "Calls the API throttled in the last run.", [("", Double(report.throttled))])
        gauge(
            "groups",
            "Libraries of the last run, by status.",
            [GroupStatus.complete, .unverified, .changedDuringExport, .incomplete, .failed].map { status in
                ("status=\"\(status.rawValue)\"", Double(report.groups.filter { $0.status == status }.count))
            }
        )
        gauge(
            "groups_changed_during_export",
            "Libraries of the last run edited while they were walked.",
            [("", Double(report.changedGroups))]
        )
        gauge("run_duration_seconds", "How long the last run took.", [("", (report.duration * 1000).rounded() / 1000)])
        gauge(
            "last_run_outcome",
            "1 for the last run's outcome, 0 for the others.",
            [RunOutcome.complete, .partial, .failed, .interrupted].map {
                ("outcome=\"\($0.rawValue)\"", $0 == report.outcome ? 1 : 0)
            }
        )
        gauge("last_run_timestamp_seconds", "When the last run ended.", [("", now.timeIntervalSince1970.rounded())])
        if let lastSuccess {
            gauge("last_success_timestamp_seconds", "When a run last completed.", [("", lastSuccess.rounded())])
        }
        try AtomicFileWriter.write(
            Array((lines.joined(separator: "\n") + "\n").utf8),
            to: self.path,
            runID: report.runID,
            mode: 0o644
        )
    }

    /// A label value in the text format: quoted, with backslash, quote and newline escaped.
    private static func labelValue(_ text: String) -> String {
        "\""
            + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    private func previousLastSuccess() -> Double? {
        guard let text = try? String(contentsOfFile: self.path, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("faceexport_last_success_timestamp_seconds{") }
        return line?.split(separator: " ").last.flatMap { Double($0) }
    }
}
