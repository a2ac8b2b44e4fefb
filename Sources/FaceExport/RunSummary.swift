public import ExportPipeline
import ExportSinks
import Foundation

/// The one-screen account of a run printed on standard error.
public struct RunSummary {
    /// The run's report.
    public let report: RunReport
    /// The pipeline's name, on the first line.
    public let pipeline: String

    /// Creates the summary of `report`.
    public init(report: RunReport, pipeline: String) {
        self.report = report
        self.pipeline = pipeline
    }

    /// The lines to print, joined by newlines.
    public var text: String {
        let report = self.report
        var lines: [String] = []
        lines.append(
            "faceexport: pipeline '\(self.pipeline)', run \(report.runID): \(report.outcome.rawValue.uppercased())"
        )
        let byStatus = Dictionary(grouping: report.groups, by: \.status)
        let shown =
            [GroupStatus.complete] + (byStatus[.unverified] == nil ? [] : [.unverified])
            + [.changedDuringExport, .incomplete, .failed]
        var counts = shown.map {
            "\(byStatus[$0]?.count ?? 0) \($0.rawValue.replacingOccurrences(of: "_", with: " "))"
        }
        let edited = (byStatus[.complete] ?? []).filter(\.changedDuringExport).count
        if edited > 0 { counts[0] += " (\(edited) edited during the walk)" }
        lines.append("  groups    \(report.groups.count): \(counts.joined(separator: ", "))")
        let filtered = report.filtered > 0 ? " (\(report.filtered) more left out by the transform's filter)" : ""
        lines.append("  faces     \(report.faces) in \(report.pages) pages\(filtered)")
        if report.repairedText > 0 {
            let libraries = report.groups.filter { $0.repairedText.count > 0 }.count
            lines.append(
                "  REPAIRED  \(report.repairedText) faces in \(libraries) libraries had text that was not valid UTF-8;"
                    + " exported with U+FFFD in its place (manifest: repaired_text, repaired_faces)"
            )
        }
        let throttled = report.throttled > 0 ? ", throttled by the API \(report.throttled)" : ""
        lines.append("  requests  \(report.requests), retries \(report.retries)\(throttled)")
        if let hint = Self.throttleHint(throttled: report.throttled, requests: report.requests) { lines.append(hint) }
        let rate = report.duration > 0 ? Int(Double(report.faces) / report.duration) : 0
        lines.append("  time      \(String(format: "%.2f", report.duration)) s, \(rate) faces/s")
        for file in report.files {
            lines.append("  output    \(file.path) (\(file.rows) rows, \(file.bytes) bytes)")
        }
        if report.outcome == .interrupted {
            lines.append("  STOPPED   \(report.failure ?? "interrupted")")
            lines.append(
                "            previous outputs were left untouched; `faceexport run … --resume` continues this run"
            )
        } else if let failure = report.failure {
            lines.append("  FAILED    \(failure)")
            lines.append("            previous outputs were left untouched")
        }
        for (account, reason) in report.accountErrors.sorted(by: { $0.key < $1.key }) {
            lines.append("  account   \(account): \(reason)")
        }
        // Libraries that ended alike for the same reason are said once, with a count.
        var reasons: [(key: String, groups: [GroupReport])] = []
        for group in report.unfinishedGroups {
            let reason = "\(group.status.rawValue)|\(group.reason ?? "")"
            if let index = reasons.firstIndex(where: { $0.key == reason }) {
                reasons[index].groups.append(group)
            } else {
                reasons.append((reason, [group]))
            }
        }
        for (_, groups) in reasons.prefix(20) {
            let group = groups[0]
            var line = "  \(group.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
            if groups.count == 1 {
                line += "\(group.groupID): exported \(group.exported) of \(group.expected.map(String.init) ?? "?")"
                if let unreachable = group.unreachable { line += ", \(unreachable) unreachable" }
                if let error = group.error { line += " — \(error)" }
            } else {
                let names = groups.prefix(3).map(\.groupID).joined(separator: ", ") + (groups.count > 3 ? ", …" : "")
                line += "\(groups.count) libraries (\(names))"
                if let reason = group.reason { line += " — \(reason)" }
            }
            lines.append(line)
        }
        if reasons.count > 20 {
            lines.append("  … and \(reasons.count - 20) more reasons libraries were not exported completely")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A line of advice when the API refused a fifth of the calls or more as over its rate limit: the
    /// run still ends well, but every refusal cost a retry and time, night after night.
    static func throttleHint(throttled: Int, requests: Int) -> String? {
        guard requests >= 20, throttled * 5 >= requests else { return nil }
        let share = Int((Double(throttled) / Double(requests) * 100).rounded())
        return "  THROTTLED the API refused \(share)% of the calls as over its rate limit, each retried at a cost of"
            + " time: lower rate_limit.requests_per_second (mode: fixed) or let mode: adaptive find the limit"
    }
}
