public import ExportPipeline
import ExportSinks
public import Foundation

/// The run's figures in Prometheus text format, for node_exporter's textfile collector.
///
/// The families of ``RunMetrics``, each sample labelled with the pipeline's name.
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

    /// Writes the figures of `report`, finished at `now`; of a run that failed before it began when
    /// `report` is nil.
    public func write(_ report: RunReport?, now: Date = Date()) throws {
        let labels = "pipeline=\(RunMetrics.labelValue(self.pipeline))"
        let metrics: RunMetrics
        if let report {
            let lastSuccess = report.outcome == .complete ? now.timeIntervalSince1970 : self.previousLastSuccess()
            metrics = .finished(report, now: now, lastSuccess: lastSuccess, labels: labels)
        } else {
            metrics = .failedToStart(now: now, lastSuccess: self.previousLastSuccess(), labels: labels)
        }
        let runID = report?.runID ?? "not-started"
        try AtomicFileWriter.write(Array(metrics.text.utf8), to: self.path, runID: runID, mode: 0o644)
    }

    private func previousLastSuccess() -> Double? {
        guard let text = try? String(contentsOfFile: self.path, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("faceexport_last_success_timestamp_seconds{") }
        return line?.split(separator: " ").last.flatMap { Double($0) }
    }
}
