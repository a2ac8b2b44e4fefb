import ArgumentParser
import FaceSearchSimulation

/// The shape of realistic faces: the flags of `simulate --realistic` (`faceexport-bench --data realistic` takes the same).
struct RealisticDataOptions: ParsableArguments {
    @Option(help: "Realistic data: average bytes of a face as the API sends it.")
    var faceBytes = DatasetGenerator.RealisticFaces().averageFaceBytes

    @Option(help: "Realistic data: share of faces with quotes, backslashes, control characters or non-ASCII.")
    var hardShare = DatasetGenerator.RealisticFaces().hardShare

    /// The dataset's setting, checked.
    func faces() throws -> DatasetGenerator.RealisticFaces {
        let faces = DatasetGenerator.RealisticFaces(averageFaceBytes: self.faceBytes, hardShare: self.hardShare)
        if let problem = faces.problem { throw ValidationError(problem) }
        return faces
    }
}
