import ExportPipeline
import ExportSinks
import FaceSearch
import Foundation
import PipelineFile

extension PipelineLauncher {
    /// `run --dry-run`: the output schema and the first `count` transformed records of the first
    /// library, as text; nothing is written, locked or journaled.
    public func preview(count: Int) async throws -> String {
        try await self.withAccounts { accounts in
            let hashKey = try self.definition.transform.hashKey.map { source in
                try Secrets.hashKey(source, definition: self.definition, file: self.file)
            }
            let transform = try self.makeTransform(
                hashKey: hashKey,
                runID: "dry-run",
                startedAt: Int64((Date().timeIntervalSince1970 * 1000).rounded())
            )
            var lines = [
                "schema (\(transform.schema.columns.count) columns, transform \(transform.digest.prefix(12))):"
            ]
            let width = transform.schema.columns.map(\.name.count).max() ?? 0
            for column in transform.schema.columns {
                let name = column.name.padding(toLength: width, withPad: " ", startingAt: 0)
                lines.append(
                    "  \(name)  \(column.type.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  from \(column.origin.rawValue)"
                )
            }
            if self.definition.outputs.contains(where: { $0.format == .parquet }) {
                lines.append("parquet columns:")
                for column in OutputSink.parquetColumns(transform.schema) {
                    let name = column.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    lines.append("  \(name)  \(column.description)")
                }
            }
            guard let account = accounts.first, let endpoint = account.endpoint else {
                return lines.joined(separator: "\n")
            }
            let client = FaceSearchClient(
                endpoint: endpoint,
                signer: RequestSigner(credentials: account.credentials),
                transport: try self.transport(),
                logger: self.logger
            )
            let sample = try await BlockingWork.run { () throws -> (String, [Face])? in
                let groupIDs: [String]
                switch account.groups {
                case .list(let ids): groupIDs = ids
                case .all: groupIDs = try client.listGroups().map(\.groupID)
                }
                // The first library with faces (the API counts `start` from 1), among the first few.
                for groupID in groupIDs.prefix(10) {
                    let page = try client.listFaces(groupID: groupID, start: 1, limit: min(1000, max(count, 100)))
                    if !page.faces.isEmpty { return (groupID, page.faces) }
                }
                return nil
            }
            guard let (groupID, faces) = sample else {
                lines.append("no face to sample in the first libraries of account '\(account.name)'")
                return lines.joined(separator: "\n")
            }
            var rows = RecordRows(width: transform.schema.columns.count)
            let source = RecordSource(account: account.name, groupID: groupID)
            var filtered = 0
            for face in faces where rows.count < count {
                if !transform.append(face, from: source, to: &rows) { filtered += 1 }
            }
            let filterNote = filtered > 0 ? ", \(filtered) left out by the filter" : ""
            lines.append(
                "records (first \(rows.count) of library '\(groupID)', account '\(account.name)'\(filterNote)):"
            )
            let encoder = NDJSONEncoder(schema: transform.schema)
            for index in 0..<rows.count { lines.append(String(encoder.line(row: index, of: rows).dropLast())) }
            return lines.joined(separator: "\n")
        }
    }
}
