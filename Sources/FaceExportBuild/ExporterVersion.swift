/// Which faceexport wrote an output: the package's version and the commit it was built from.
public enum ExporterVersion {
    /// The release this source tree is; raised with every release (semantic versioning).
    public static let number = "0.5.0"

    /// The git commit the binary was built from (12 hex digits, `-dirty` when the checkout had
    /// uncommitted changes), or nil when it was built outside a checkout.
    public static let commit: String? = gitCommit.isEmpty ? nil : gitCommit

    /// The version as `faceexport --version`, the manifest and the metrics say it: `0.5.0`, or
    /// `0.5.0+1a2b3c4d5e6f` with the commit as semantic-versioning build metadata.
    public static let full: String = commit.map { "\(number)+\($0)" } ?? number
}
