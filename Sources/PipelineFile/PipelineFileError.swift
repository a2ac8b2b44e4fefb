/// A mistake in a pipeline file, located by line and key so it can be fixed without guessing.
public struct PipelineFileError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// The 1-based line, when known.
    public var line: Int?
    /// The key path, e.g. `outputs[0].format`.
    public var key: String?
    /// What is wrong and what is expected.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = self.file
        if let line = self.line { text += ":\(line)" }
        text += ": "
        if let key = self.key { text += "\(key): " }
        return text + self.message
    }
}
