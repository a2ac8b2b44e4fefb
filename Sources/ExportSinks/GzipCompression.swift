/// How `.gz` outputs are compressed: which library, at which level.
///
/// Every engine writes standard gzip members (RFC 1952), which gzip, zcat, Python, DuckDB and Spark
/// read as one stream; they differ in speed and size (the Performance article of the FaceExport
/// catalog has the figures: ISA-L level 2 adds about 0.3 CPU-s per million faces for files a few
/// percent larger than zlib level 6's, which costs several seconds).
public struct GzipCompression: Sendable, Hashable, CustomStringConvertible {
    /// A compression library.
    public enum Engine: String, Sendable, Hashable, CaseIterable {
        /// Intel's ISA-L igzip (Debian's libisal2): the fastest, levels 0 to 3.
        case isal
        /// libdeflate: whole-buffer compression, levels 1 to 12.
        case libdeflate
        /// zlib, levels 1 to 9: the reference, for zlib's exact output.
        case zlib

        /// The levels the engine accepts.
        public var levels: ClosedRange<Int> {
            switch self {
            case .isal: 0...3
            case .libdeflate: 1...12
            case .zlib: 1...9
            }
        }

        /// The level used when none is given.
        public var defaultLevel: Int {
            switch self {
            case .isal: 2
            case .libdeflate: 6
            case .zlib: 6
            }
        }
    }

    /// The library.
    public var engine: Engine
    /// Its level, within `engine.levels`.
    public var level: Int

    /// ISA-L at its default level (2): the default of every `.gz` output.
    public static let standard = GzipCompression(checkedEngine: .isal, level: Engine.isal.defaultLevel)

    /// An engine at `level` (its default level when nil); nil when the engine does not have that level.
    public init?(engine: Engine, level: Int? = nil) {
        let level = level ?? engine.defaultLevel
        guard engine.levels.contains(level) else { return nil }
        self.init(checkedEngine: engine, level: level)
    }

    private init(checkedEngine engine: Engine, level: Int) {
        self.engine = engine
        self.level = level
    }

    public var description: String { "\(self.engine.rawValue) level \(self.level)" }
}
