public import ExportPipeline
import FaceExportBuild
public import Foundation

/// A run's figures in Prometheus text format: the same families whether they go to a file or to a
/// Pushgateway, at the run's end or while it goes on.
///
/// Every value is a gauge describing one run; labels are fixed enumerations (status, outcome), so
/// their number is bounded. `labels` go on every sample: the file's `pipeline="…"`; none for a push,
/// whose grouping key carries them.
public struct RunMetrics: Sendable {
    private var lines: [String] = []
    private let labels: String

    private init(labels: String) { self.labels = labels }

    /// The text: one sample per line, ending with a newline.
    public var text: String { self.lines.joined(separator: "\n") + "\n" }

    /// The figures of a finished run, ended at `now`; `lastSuccess` (seconds since 1970) is the last
    /// complete run's end, nil for none known.
    public static func finished(
        _ report: RunReport,
        now: Date,
        lastSuccess: Double?,
        labels: String = ""
    ) -> RunMetrics {
        var figures = Figures(outcome: report.outcome)
        figures.faces = report.faces
        figures.filtered = report.filtered
        figures.pages = report.pages
        figures.retries = report.retries
        figures.duration = report.duration
        figures.groups = report.groups.count
        figures.attempts = report.attemptsByOutcome
        figures.repaired = report.repairedText
        figures.throttled = report.throttled
        for group in report.groups { figures.byStatus[group.status, default: 0] += 1 }
        figures.changed = report.changedGroups
        return Self.ended(figures, now: now, lastSuccess: lastSuccess, labels: labels)
    }

    /// The figures of a run that failed before it began (the store refused it, an interrupted commit
    /// could not be finished, the credentials could not be read): every count 0, the outcome
    /// `failed`, so that an alert on the last run's outcome fires for it too.
    public static func failedToStart(now: Date, lastSuccess: Double?, labels: String = "") -> RunMetrics {
        Self.ended(Figures(outcome: .failed), now: now, lastSuccess: lastSuccess, labels: labels)
    }

    /// What a run that ended is described by.
    private struct Figures {
        var outcome: RunOutcome
        var faces = 0
        var filtered = 0
        var pages = 0
        var retries = 0
        var duration = 0.0
        var groups = 0
        var attempts: [String: Int] = [:]
        var repaired = 0
        var throttled = 0
        var byStatus: [GroupStatus: Int] = [:]
        var changed = 0
    }

    private static func ended(_ figures: Figures, now: Date, lastSuccess: Double?, labels: String) -> RunMetrics {
        var metrics = RunMetrics(labels: labels)
        metrics.common(
            faces: figures.faces,
            pages: figures.pages,
            retries: figures.retries,
            duration: figures.duration,
            groups: (figures.groups, figures.groups),
            now: now,
            inProgress: false
        )
        metrics.gauge("faces_filtered", "Faces the run's transform filter left out.", [("", Double(figures.filtered))])
        metrics.gauge(
            "requests",
            "Calls the run made, by outcome.",
            ["ok", "retryable_error", "group_error", "run_error"].map {
                ("outcome=\"\($0)\"", Double(figures.attempts[$0, default: 0]))
            }
        )
        metrics.gauge(
            "repaired_text_faces",
            "Faces of the run whose text was not valid UTF-8, exported with U+FFFD in its place.",
            [("", Double(figures.repaired))]
        )
        metrics.gauge("rate_limited_requests", "Calls the API throttled in the run.", [("", Double(figures.throttled))])
        metrics.gauge(
            "groups",
            "Libraries of the run, by status.",
            [GroupStatus.complete, .unverified, .changedDuringExport, .incomplete, .failed].map { status in
                ("status=\"\(status.rawValue)\"", Double(figures.byStatus[status, default: 0]))
            }
        )
        metrics.gauge(
            "groups_changed_during_export",
            "Libraries of the run edited while they were walked.",
            [("", Double(figures.changed))]
        )
        metrics.gauge(
            "last_run_outcome",
            "1 for the last finished run's outcome, 0 for the others.",
            [RunOutcome.complete, .partial, .failed, .interrupted].map {
                ("outcome=\"\($0.rawValue)\"", $0 == figures.outcome ? 1 : 0)
            }
        )
        metrics.gauge(
            "last_run_timestamp_seconds",
            "When the last run ended.",
            [("", now.timeIntervalSince1970.rounded())]
        )
        if let lastSuccess {
            metrics.gauge("last_success_timestamp_seconds", "When a run last completed.", [("", lastSuccess.rounded())])
        }
        return metrics
    }

    /// The figures of a run still going on, `elapsed` seconds after it started, at `now`.
    public static func running(
        _ progress: RunProgress,
        elapsed: Double,
        now: Date,
        labels: String = ""
    ) -> RunMetrics {
        var metrics = RunMetrics(labels: labels)
        metrics.common(
            faces: progress.faces,
            pages: progress.pages,
            retries: progress.retries,
            duration: elapsed,
            groups: (progress.groupsWalked, progress.groupsScheduled),
            now: now,
            inProgress: true
        )
        return metrics
    }

    /// The families both kinds carry, so a push at the end replaces every one a push during the run sent.
    private mutating func common(
        faces: Int,
        pages: Int,
        retries: Int,
        duration: Double,
        groups: (walked: Int, scheduled: Int),
        now: Date,
        inProgress: Bool
    ) {
        self.gauge(
            "build_info",
            "The faceexport that wrote these figures: 1, with its version as a label.",
            [("version=\(Self.labelValue(ExporterVersion.full))", 1)]
        )
        self.gauge(
            "run_in_progress",
            "1 while a run goes on (figures so far), 0 once it has ended (figures of the whole run).",
            [("", inProgress ? 1 : 0)]
        )
        self.gauge("faces_exported", "Faces the run wrote.", [("", Double(faces))])
        self.gauge("pages_exported", "Pages the run received.", [("", Double(pages))])
        self.gauge("retries", "Calls the run retried.", [("", Double(retries))])
        self.gauge(
            "run_duration_seconds",
            "How long the run took, or has taken so far.",
            [("", (duration * 1000).rounded() / 1000)]
        )
        self.gauge("groups_scheduled", "Libraries the run scheduled (so far).", [("", Double(groups.scheduled))])
        self.gauge("groups_walked", "Libraries whose walk has ended.", [("", Double(groups.walked))])
        self.gauge(
            "metrics_timestamp_seconds",
            "When these figures were taken.",
            [("", now.timeIntervalSince1970.rounded())]
        )
    }

    private mutating func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
        self.lines.append("# HELP faceexport_\(name) \(help)")
        self.lines.append("# TYPE faceexport_\(name) gauge")
        for sample in samples {
            let value =
                sample.value.rounded() == sample.value && abs(sample.value) < 1e15
                ? String(Int64(sample.value)) : String(sample.value)
            let labels = [self.labels, sample.labels].filter { !$0.isEmpty }.joined(separator: ",")
            self.lines.append("faceexport_\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)")
        }
    }

    /// A label value in the text format: quoted, with backslash, quote and newline escaped.
    static func labelValue(_ text: String) -> String {
        "\""
            + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
