import Foundation
import ObjectStorage
import Synchronization
import Testing
import Transport

/// Listings longer than one answer are read page after page, as S3 serves them: a thousand at a
/// time, the next page asked for with the markers the last one named.
struct ObjectStorageListingTests {
    /// A store holding `uploads` open uploads, listing them a thousand at a time by key, then id.
    final class PagingStore: HTTPTransport {
        let uploads: [(key: String, uploadID: String)]
        let queries = Mutex<[[String: String]]>([])

        init(uploads: [(key: String, uploadID: String)]) {
            self.uploads = uploads.sorted { ($0.key, $0.uploadID) < ($1.key, $1.uploadID) }
        }

        func send(
            _ request: TransportRequest,
            completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
        ) {
            let items = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
            let query = Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            self.queries.withLock { $0.append(query) }
            let prefix = query["prefix"] ?? ""
            let after = query["key-marker"].map { ($0, query["upload-id-marker"] ?? "") }
            let listed = self.uploads.filter { upload in
                upload.key.hasPrefix(prefix) && after.map { (upload.key, upload.uploadID) > $0 } ?? true
            }
            let page = listed.prefix(1000)
            let truncated = listed.count > page.count
            var xml = "<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker>\(after?.0 ?? "")</KeyMarker>"
            xml += "<UploadIdMarker>\(after?.1 ?? "")</UploadIdMarker>"
            if truncated, let last = page.last {
                xml +=
                    "<NextKeyMarker>\(last.key)</NextKeyMarker><NextUploadIdMarker>\(last.uploadID)</NextUploadIdMarker>"
            }
            xml += "<MaxUploads>1000</MaxUploads><IsTruncated>\(truncated)</IsTruncated>"
            for upload in page {
                xml += "<Upload><Key>\(upload.key)</Key><UploadId>\(upload.uploadID)</UploadId></Upload>"
            }
            xml += "</ListMultipartUploadsResult>"
            completion(.success(TransportResponse(status: 200, body: Data(xml.utf8))))
        }
    }

    static func client(_ store: PagingStore) -> ObjectStorageClient {
        ObjectStorageClient(
            configuration: .init(endpoint: URL(string: "http://127.0.0.1:9")!, bucket: "b"),
            credentials: { .init(accessKeyID: "k", secretAccessKey: "s") },
            transport: store
        )
    }

    @Test func everyOpenUploadIsListedPastTheFirstThousand() throws {
        // Two uploads of one key straddle a page boundary: the upload-id marker tells them apart.
        var uploads = (0..<2_499).map {
            (key: String(format: "dt=2026-12-06/part-%05d.ndjson.gz", $0), uploadID: "u\($0)")
        }
        uploads.append((key: uploads[999].key, uploadID: "u999b"))
        uploads.append((key: "elsewhere/faces.ndjson.gz", uploadID: "other"))
        let store = PagingStore(uploads: uploads)
        let listed = try Self.client(store).listMultipartUploads(prefix: "dt=2026-12-06/")
        #expect(listed.count == 2_500)
        #expect(Set(listed.map(\.uploadID)).count == 2_500, "none twice")
        #expect(!listed.contains { $0.uploadID == "other" })
        let queries = store.queries.withLock { $0 }
        #expect(queries.count == 3)
        #expect(queries[1]["key-marker"] == uploads[999].key)
        #expect(queries[1]["upload-id-marker"] == "u999")
    }
}
