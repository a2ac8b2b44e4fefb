/// An output path with placeholders: `{date}`, `{run_id}`, `{pipeline}`, `{shard}`, `{account}`, `{group}`.
///
/// `{date}` is the run's start date (UTC, `YYYY-MM-DD`). `{account}` and `{group}` make one file per
/// account or per library; their values (and `{pipeline}`'s) pass through ``SafeFileName``. A
/// Hive-style layout such as `dt={date}/faces.csv.gz` keeps each night in its own partition folder.
public struct OutputPathTemplate: Sendable, Hashable, CustomStringConvertible {
    /// The placeholders a template may use.
    public static let placeholders: Set<String> = ["date", "run_id", "pipeline", "shard", "account", "group"]

    /// The template as written.
    public let text: String
    private let parts: [Part]

    private enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// The values the run gives every file.
    public struct RunValues: Sendable {
        /// `YYYY-MM-DD`.
        public var date: String
        /// The run id.
        public var runID: String
        /// The pipeline's name.
        public var pipeline: String
        /// The shard, `K-of-N`, or `all`.
        public var shard: String

        /// Creates the values.
        public init(date: String, runID: String, pipeline: String, shard: String = "all") {
            self.date = date
            self.runID = runID
            self.pipeline = pipeline
            self.shard = shard
        }
    }

    /// Parses `text`; throws a description of the first problem.
    public init(_ text: String) throws(TemplateError) {
        var parts: [Part] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "{" {
                guard let close = text[index...].firstIndex(of: "}") else { throw TemplateError("'{' is not closed") }
                let name = String(text[text.index(after: index)..<close])
                guard Self.placeholders.contains(name) else {
                    throw TemplateError(
                        "unknown placeholder {\(name)}; known: \(Self.placeholders.sorted().map { "{\($0)}" }.joined(separator: ", "))"
                    )
                }
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.placeholder(name))
                index = text.index(after: close)
            } else {
                guard character != "}" else { throw TemplateError("'}' without '{'") }
                literal.append(character)
                index = text.index(after: index)
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.text = text
        self.parts = parts
    }

    /// Whether the template makes one file per library.
    public var isPerGroup: Bool { self.parts.contains(.placeholder("group")) }
    /// Whether the template names the shard.
    public var isPerShard: Bool { self.parts.contains(.placeholder("shard")) }
    /// Whether the template makes one file per account.
    public var isPerAccount: Bool { self.parts.contains(.placeholder("account")) }

    /// The path for one file.
    public func resolve(_ run: RunValues, account: String?, group: String?) -> String {
        self.parts.map { part -> String in
            switch part {
            case .literal(let text): text
            case .placeholder("date"): run.date
            case .placeholder("run_id"): SafeFileName.make(run.runID)
            case .placeholder("pipeline"): SafeFileName.make(run.pipeline)
            case .placeholder("shard"): run.shard
            case .placeholder("account"): SafeFileName.make(account ?? "")
            case .placeholder(_): SafeFileName.make(group ?? "")
            }
        }.joined()
    }

    /// Whether `path` is one this template makes for `run`, for any account and library.
    public func matches(_ path: String, _ run: RunValues) -> Bool {
        Self.matches(path[...], self.parts[...], run, free: ["account", "group"])
    }

    /// Whether `path` is one this template makes for any run of `run`'s pipeline and shard: any
    /// date and run id (those of `run` are not read), any account and library.
    public func matchesAnyRun(_ path: String, of run: RunValues) -> Bool {
        Self.matches(path[...], self.parts[...], run, free: ["account", "group", "date", "run_id"])
    }

    private static func matches(
        _ path: Substring,
        _ parts: ArraySlice<Part>,
        _ run: RunValues,
        free: Set<String>
    ) -> Bool {
        guard let part = parts.first else { return path.isEmpty }
        let rest = parts.dropFirst()
        let fixed: String?
        switch part {
        case .literal(let text): fixed = text
        case .placeholder(let name) where free.contains(name): fixed = nil
        case .placeholder("date"): fixed = run.date
        case .placeholder("run_id"): fixed = SafeFileName.make(run.runID)
        case .placeholder("pipeline"): fixed = SafeFileName.make(run.pipeline)
        case .placeholder("shard"): fixed = run.shard
        case .placeholder(_): fixed = nil
        }
        if let fixed {
            return path.hasPrefix(fixed) && Self.matches(path.dropFirst(fixed.count), rest, run, free: free)
        }
        // A value of one or more characters within one folder level.
        var end = path.startIndex
        while end < path.endIndex && path[end] != "/" {
            end = path.index(after: end)
            if Self.matches(path[end...], rest, run, free: free) { return true }
        }
        return false
    }

    public var description: String { self.text }
}

/// Why a path template is not valid.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
