public import ExportSinks

/// The last check before a commit: every output holds exactly the rows the walk handed it.
///
/// Each faces file of an output must hold the rows of the libraries its partition takes (all of
/// them for a plain path, one account's or one library's for `{account}` and `{group}` templates),
/// and every output together the rows of every library: faces the walk handed on, less those the
/// transform's filter left out. A file that disagrees is never renamed into place.
public struct CommitCheck: Sendable {
    /// The rows the walk handed on for one library.
    public struct Library: Sendable, Hashable {
        /// The account's name.
        public var account: String
        /// The library's id.
        public var groupID: String
        /// Faces the walk handed on, less those the filter left out.
        public var rows: Int

        /// Creates a library's count.
        public init(account: String, groupID: String, rows: Int) {
            self.account = account
            self.groupID = groupID
            self.rows = rows
        }
    }

    /// Every library of the run.
    public var libraries: [Library]

    /// Creates a check against these libraries.
    public init(libraries: [Library]) {
        self.libraries = libraries
    }

    /// The first disagreement between the outputs' files (one list per output) and the walk, said
    /// in one line; nil when every file holds what it should.
    public func disagreement(outputs: [[PreparedFile]]) -> String? {
        // What each partition a path template can name should hold, summed once: a run with a file
        // per library has as many files as libraries.
        var expectedRows: [PreparedFile.Partition: Int] = [:]
        for library in self.libraries {
            for account in [nil, library.account] {
                for group in [nil, library.groupID] {
                    expectedRows[.init(account: account, group: group), default: 0] += library.rows
                }
            }
        }
        let total = expectedRows[.init(account: nil, group: nil)] ?? 0
        for files in outputs {
            var held = 0
            for file in files {
                guard let partition = file.partition else { continue }
                let expected = expectedRows[partition] ?? 0
                held += file.summary.rows
                if file.summary.rows != expected {
                    return Self.describe(file.summary.path, holds: file.summary.rows, expected: expected)
                }
            }
            if held != total, let first = files.first(where: { $0.partition != nil }) {
                return Self.describe(
                    Self.folder(of: first.summary.path) + " (all files of this output)",
                    holds: held,
                    expected: total
                )
            }
        }
        return nil
    }

    private static func describe(_ what: String, holds rows: Int, expected: Int) -> String {
        let difference = rows > expected ? "\(rows - expected) more" : "\(expected - rows) fewer"
        return "the output \(what) holds \(rows) rows but the walk handed it \(expected) (\(difference)); "
            + "nothing was committed and the previous outputs were kept; run again without --resume"
    }

    private static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }
}
