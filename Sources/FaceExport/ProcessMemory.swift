import CMalloc

/// The process's malloc settings for an export, set before the run's threads start.
public enum ProcessMemory {
    /// Freed memory above this stays in the process for the next page instead of going back to the
    /// kernel (glibc's default: 128 KiB, then twice the largest block freed).
    static let trimThreshold: Int32 = 64 << 20
    /// Blocks up to this come from the heap rather than a fresh `mmap` each.
    static let mmapThreshold: Int32 = 16 << 20

    /// At most four malloc arenas, and freed pages kept for reuse.
    ///
    /// glibc's default, eight arenas per core, lets each of an export's many threads keep the pages
    /// it freed in an arena of its own: 6–8 MB more peak memory with 64 libraries at once or one
    /// library of a million faces, for no CPU that the benchmark can tell. Its default trimming
    /// hands a page's freed buffers (a few hundred KiB each, made on one thread and freed on
    /// another) back to the kernel, and the next page faults them in again: 5–6% of an export's CPU
    /// in page faults and `madvise`, 1.3% with these thresholds, for 1–2 MB more peak memory.
    public static func configure() {
        _ = mallopt(M_ARENA_MAX, 4)
        _ = mallopt(M_TRIM_THRESHOLD, Self.trimThreshold)
        _ = mallopt(M_MMAP_THRESHOLD, Self.mmapThreshold)
    }
}
