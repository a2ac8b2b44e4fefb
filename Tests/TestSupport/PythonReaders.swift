public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Python with the independent readers of `.ci/python-readers.txt` (pyarrow, DuckDB), in a
/// virtual environment under `.build/python-readers`: made by `.ci/run`, or here the first time a
/// test needs it (from PyPI, the pinned versions), one process at a time.
public enum PythonReaders {
    /// The repository's top folder.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The environment's `python`, made if it is missing.
    public static func python() throws -> String {
        let folder = Self.root + "/.build/python-readers"
        let python = folder + "/bin/python"
        let requirements = Self.root + "/.ci/python-readers.txt"
        // `.ready` holds the requirements it was made with: another list makes it again.
        let ready = folder + "/.ready"
        let wanted = try String(contentsOfFile: requirements, encoding: .utf8)
        func isReady() -> Bool { (try? String(contentsOfFile: ready, encoding: .utf8)) == wanted }
        if isReady() { return python }
        try FileManager.default.createDirectory(atPath: Self.root + "/.build", withIntermediateDirectories: true)
        let lock = open(folder + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw TestFailure("cannot create \(folder).lock") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }
        if isReady() { return python }
        try? FileManager.default.removeItem(atPath: folder)
        _ = try runProgram("/usr/bin/python3", ["-m", "venv", folder])
        _ = try runProgram(
            python,
            ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements]
        )
        try wanted.write(toFile: ready, atomically: true, encoding: .utf8)
        return python
    }

    /// Runs `script` with `arguments` in that Python and returns what it printed.
    public static func run(_ script: String, _ arguments: [String]) throws -> Data {
        try runProgram(try Self.python(), ["-c", script] + arguments)
    }

    /// Starts a server `script` in that Python and returns it once it printed its first line (where
    /// it listens); it must stop when its standard input ends, which closing `input` does. Its
    /// later lines can be read from `output`.
    public static func startServer(
        _ script: String,
        _ arguments: [String],
        name: String
    ) throws -> (process: Process, input: Pipe, output: Pipe, line: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.python())
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else { throw TestFailure("\(name) did not start") }
            line += byte
        }
        return (process, input, output, line)
    }
}
