// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "FaceExport",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "faceexport", targets: ["faceexport"]),
        .executable(name: "faceexport-bench", targets: ["FaceExportBench"]),
        .library(name: "FaceSearch", targets: ["FaceSearch"]),
        .library(name: "ExportPipeline", targets: ["ExportPipeline"]),
        .library(name: "ExportSinks", targets: ["ExportSinks"]),
        .library(name: "FaceSearchSimulator", targets: ["FaceSearchSimulator", "FaceSearchSimulation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // `swift package generate-documentation`: the reference catalog in Sources/FaceExport/FaceExport.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C libraries enter through system-library targets; each is imported by one Swift wrapper only
        // (CMalloc: by the application, for its malloc settings, and by the bench, for its memory figures).
        .systemLibrary(name: "CCryptoOpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CLibdeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CMalloc"),

        .target(name: "FaceExportCrypto", dependencies: ["CCryptoOpenSSL"]),
        // The version and the git commit, embedded when the binary is built.
        .plugin(name: "GitCommitPlugin", capability: .buildTool(), path: "Sources/GitCommitPlugin"),
        .target(name: "FaceExportBuild", plugins: ["GitCommitPlugin"]),
        // HTTP exchanges through libcurl: requests, answers, failures, proxies and trust.
        .target(name: "Transport", dependencies: ["CCurl"]),
        .target(
            name: "FaceSearch",
            dependencies: [
                "FaceExportCrypto",
                "Transport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ExportSinks",
            dependencies: [
                "CZlib", "CIsal", "CLibdeflate", "CSQLite", "CZstd", "CSnappy", "FaceExportCrypto", "ObjectStorage",
            ]
        ),
        .target(
            name: "ExportPipeline",
            dependencies: [
                "FaceExportBuild",
                "FaceExportCrypto",
                "FaceSearch",
                "ExportSinks",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The simulated API: datasets, faults, signatures and answers, with no server.
        .target(name: "FaceSearchSimulation", dependencies: ["FaceExportCrypto"]),
        // The simulated API served over HTTP on loopback.
        .target(
            name: "FaceSearchSimulator",
            dependencies: [
                "FaceSearchSimulation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // S3-compatible object storage: SigV4 signing.
        .target(name: "ObjectStorage", dependencies: ["FaceExportCrypto", "Transport"]),
        .target(
            name: "PipelineFile",
            dependencies: [
                "ExportPipeline",
                "ExportSinks",
                "FaceSearch",
                "Transport",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The application: one pipeline run from a checked pipeline file to its report.
        .target(
            name: "FaceExport",
            dependencies: [
                "CMalloc",
                "ExportPipeline",
                "ExportSinks",
                "FaceExportBuild",
                "FaceExportCrypto",
                "FaceSearch",
                "FaceSearchSimulation",
                "FaceSearchSimulator",
                "ObjectStorage",
                "PipelineFile",
                "Transport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command line: arguments, printing, exit codes.
        .executableTarget(
            name: "faceexport",
            dependencies: [
                "FaceExport",
                "FaceExportBuild",
                "FaceExportCrypto",
                "PipelineFile",
                "ExportPipeline",
                "ExportSinks",
                "FaceSearch",
                "FaceSearchSimulation",
                "FaceSearchSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark, not shipped in `faceexport`: scenarios against a `faceexport simulate` process.
        .executableTarget(
            name: "FaceExportBench",
            dependencies: [
                "CMalloc",
                "FaceExport",
                "PipelineFile",
                "ExportPipeline",
                "ExportSinks",
                "FaceSearch",
                "FaceSearchSimulation",
                "FaceSearchSimulator",
                // moto's S3 server for the s3 scenarios, started as the tests start it.
                "TestSupport",
                "Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers the test targets share: temporary folders, a manual clock, readers of the outputs.
        .target(
            name: "TestSupport",
            dependencies: ["ExportPipeline", "ExportSinks", "FaceSearchSimulation", "ObjectStorage", "Transport"],
            path: "Tests/TestSupport"
        ),
        // One test target per library, none with the HTTP server, and one for everything together.
        .testTarget(name: "TransportTests", dependencies: ["Transport"]),
        .testTarget(name: "FaceSearchTests", dependencies: ["FaceSearch", "FaceSearchSimulation", "Transport"]),
        .testTarget(
            name: "ExportSinksTests",
            dependencies: [
                "ExportSinks", "FaceExportCrypto", "FaceSearchSimulation", "ObjectStorage", "TestSupport", "Transport",
            ]
        ),
        .testTarget(
            name: "ExportPipelineTests",
            dependencies: ["ExportPipeline", "ExportSinks", "FaceSearch", "FaceSearchSimulation", "TestSupport"]
        ),
        .testTarget(name: "ObjectStorageTests", dependencies: ["ObjectStorage", "TestSupport", "Transport"]),
        .testTarget(
            name: "PipelineFileTests",
            dependencies: ["PipelineFile", "ExportPipeline", "ExportSinks", "FaceSearch", "TestSupport"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "FaceExport",
                "FaceExportBuild",
                "FaceExportCrypto",
                "FaceSearch",
                "FaceSearchSimulation",
                "FaceSearchSimulator",
                "ExportSinks",
                "ExportPipeline",
                "ObjectStorage",
                "PipelineFile",
                "TestSupport",
                "Transport",
                "faceexport",
            ]
        ),
    ]
)

for target in package.targets where target.type != .system && target.type != .plugin {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
