import Foundation

/// Files of group ids: one id per line; `#` starts a comment; blank lines are ignored.
public enum GroupsFile {
    /// The ids in `text`, in order, each once; errors name the line.
    public static func parse(_ text: String, file: String) throws(PipelineFileError) -> [String] {
        var ids: [String] = []
        var seen: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let id = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !id.isEmpty else { continue }
            guard !id.contains(where: \.isWhitespace) else {
                throw PipelineFileError(
                    file: file,
                    line: index + 1,
                    key: nil,
                    message: "'\(id)' holds a space: one group id per line"
                )
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
        guard !ids.isEmpty else {
            throw PipelineFileError(file: file, line: nil, key: nil, message: "lists no group id")
        }
        return ids
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(PipelineFileError) -> [String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw PipelineFileError(file: path, line: nil, key: nil, message: "cannot read the groups file")
        }
        return try self.parse(text, file: path)
    }
}
