import ArgumentParser
import FaceSearchSimulator

/// The shape of realistic faces: `simulate --realistic` and `bench --data realistic` take the same flags.
struct RealisticDataOptions: ParsableArguments {
    @Option(help: "Realistic data: average bytes of a face as the API sends it.")
    var faceBytes = DatasetGenerator.RealisticFaces().averageFaceBytes

    @Option(help: "Realistic data: share of faces with quotes, backslashes, control characters or non-ASCII.")
    var hardShare = DatasetGenerator.RealisticFaces().hardShare

    /// The dataset's setting, checked.
    func faces() throws -> DatasetGenerator.RealisticFaces {
        guard self.faceBytes >= DatasetGenerator.RealisticFaces.fixedBytes, (0...1).contains(self.hardShare) else {
            throw ValidationError(
                "--face-bytes must be at least \(DatasetGenerator.RealisticFaces.fixedBytes) and --hard-share within 0 to 1"
            )
        }
        return DatasetGenerator.RealisticFaces(averageFaceBytes: self.faceBytes, hardShare: self.hardShare)
    }

    /// The same as `faceexport simulate` flags.
    var simulatorArguments: [String] {
        ["--realistic", "--face-bytes", String(self.faceBytes), "--hard-share", String(self.hardShare)]
    }
}
