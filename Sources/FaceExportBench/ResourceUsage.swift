import CMalloc
import Foundation

/// CPU time and peak memory of this process, from getrusage.
struct ResourceUsage {
    var cpuSeconds: Double
    var peakResidentBytes: Int

    static func now() -> Self {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return Self(cpuSeconds: user + system, peakResidentBytes: Self.peakSinceReset() ?? usage.ru_maxrss * 1024)
    }

    /// Starts the peak resident size over (Linux: `5` to `/proc/self/clear_refs`), so that the peak of a
    /// scenario is its own, not that of an earlier one in the same process: the memory malloc kept from
    /// it goes back to the system first. False where that fails.
    @discardableResult
    static func resetPeak() -> Bool {
        malloc_trim(0)
        let descriptor = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return write(descriptor, "5", 1) == 1
    }

    /// The peak resident size since the last ``resetPeak()`` (`VmHWM` in `/proc/self/status`).
    private static func peakSinceReset() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.dropFirst("VmHWM:".count).split(separator: " ").first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// CPU seconds the calling thread has used: what a synchronous call on it costs, alone.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
