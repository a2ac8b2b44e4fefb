import CMalloc

/// The process's malloc settings for an export.
enum ProcessMemory {
    /// At most four malloc arenas, set before the run's threads start. glibc's default, eight per
    /// core, lets each of an export's many threads keep the pages it freed in an arena of its own:
    /// 6–8 MB more peak memory with 64 libraries at once or one library of a million faces, for no
    /// CPU that the benchmark can tell.
    static func limitArenas() {
        _ = mallopt(M_ARENA_MAX, 4)
    }
}
