public import ExportSinks
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The crash tests' hook into a real run: counts the run's file steps and kills the process at one.
///
/// Off unless the environment asks for it: `FACEEXPORT_TEST_CRASH_AT=N` dies by SIGKILL before the
/// N-th step (`N:tear` writes half of it first, when it is a write), and
/// `FACEEXPORT_TEST_STEP_LOG=PATH` appends one line per step (`N kind path`), so a test knows how
/// many steps a run has and which one it stopped at.
public final class CrashTestSteps: FileSteps.Observer {
    /// `FACEEXPORT_TEST_PART_SIZE=BYTES`: uploads in parts of that many bytes, so that a crash test's
    /// small run sends several; off unless set.
    public static func partSize(_ environment: [String: String]) -> Int? {
        environment["FACEEXPORT_TEST_PART_SIZE"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }

    private let crashAt: Int?
    private let tear: Bool
    private let log: Int32?
    private let count = Mutex(0)

    /// The steps the environment asks for: `FileSteps.direct` when it asks for nothing.
    public static func fromEnvironment(_ environment: [String: String]) -> FileSteps {
        let crash = environment["FACEEXPORT_TEST_CRASH_AT"].flatMap { $0.isEmpty ? nil : $0 }
        let logPath = environment["FACEEXPORT_TEST_STEP_LOG"].flatMap { $0.isEmpty ? nil : $0 }
        guard crash != nil || logPath != nil else { return .direct }
        let parts = crash?.split(separator: ":") ?? []
        let log = logPath.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) }
        return FileSteps(
            observer: CrashTestSteps(
                crashAt: parts.first.flatMap { Int($0) },
                tear: parts.dropFirst().first == "tear",
                log: log.flatMap { $0 >= 0 ? $0 : nil }
            )
        )
    }

    private init(crashAt: Int?, tear: Bool, log: Int32?) {
        self.crashAt = crashAt
        self.tear = tear
        self.log = log
    }

    public func decide(_ kind: FileSteps.Kind, path: String) -> FileSteps.Decision {
        let number = self.count.withLock {
            $0 += 1
            return $0
        }
        if let log = self.log {
            let line = Array("\(number) \(kind.rawValue) \(path)\n".utf8)
            _ = line.withUnsafeBytes { AtomicFileWriter.writeAll($0, to: log) }
        }
        guard number == self.crashAt else { return .proceed }
        return self.tear && (kind == .write || kind == .journal) ? .tear : .crash
    }

    public func crash() -> Never {
        kill(getpid(), SIGKILL)
        // SIGKILL cannot be caught; this is never reached.
        _exit(137)
    }
}
