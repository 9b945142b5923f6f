import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomTokens

/// Security headers for the HTML pages: a Content-Security-Policy that allows only the page's own inline
/// scripts (by SHA-256 hash, computed from the page as served, so editing a page needs no policy change),
/// scripts and workers from this origin, and fetches to this origin; no framing (`frame-ancestors 'none'`
/// and `X-Frame-Options: DENY`), `nosniff`, and no referrer (the page URL can carry a room name).
enum PageSecurity {
    /// A page response with the security headers.
    /// - Parameter imageOrigins: other origins images may load from (the shop's logo).
    static func page(status: HTTPResponse.Status, _ html: String, imageOrigins: [String] = []) -> Response {
        var headers = baseHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy(for: html, imageOrigins: imageOrigins)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let baseHeaders: HTTPFields = [
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
    ]

    static func contentSecurityPolicy(for html: String, imageOrigins: [String] = []) -> String {
        let hashes = inlineScripts(in: html).map { "'sha256-\(Data(Digest.sha256(Array($0.utf8))).base64EncodedString())'" }
        let scripts = (["'self'"] + hashes).joined(separator: " ")
        let images = (["'self'", "data:"] + imageOrigins).joined(separator: " ")
        return "default-src 'none'; script-src \(scripts); style-src 'self' 'unsafe-inline'; img-src \(images); "
            + "connect-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    }

    /// `scheme://host[:port]` of an absolute http(s) URL (nil for a path: 'self' covers it). Settings URLs
    /// are validated (no spaces, quotes or semicolons), so the origin is safe inside the policy.
    static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    /// The text of every `<script>` element without a `src` attribute, exactly as the browser hashes it.
    static func inlineScripts(in html: String) -> [Substring] {
        var scripts: [Substring] = []
        var rest = html[...]
        while let open = rest.range(of: "<script", options: .caseInsensitive) {
            guard let tagEnd = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let attributes = rest[open.upperBound..<tagEnd]
            let bodyStart = rest.index(after: tagEnd)
            guard let close = rest[bodyStart...].range(of: "</script", options: .caseInsensitive) else { break }
            if attributes.range(of: "src=", options: .caseInsensitive) == nil {
                scripts.append(rest[bodyStart..<close.lowerBound])
            }
            rest = rest[close.upperBound...]
        }
        return scripts
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}

/// Static files under `/assets/` (the proof-of-work Web Worker): served from the module's resources
/// with their content type, `nosniff` and an hour of caching.
enum AssetRoutes {
    static func add(to router: Router<BasicRequestContext>) {
        let assets = Self.loadAssets(["pow-worker.js"])
        router.get("/assets/:file") { _, context in
            guard let name = context.parameters.get("file"), let asset = assets[name] else {
                throw APIError.notFound("no such asset")
            }
            var headers = PageSecurity.baseHeaders
            headers[.contentType] = asset.contentType
            headers[.cacheControl] = "public, max-age=3600"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.text)))
        }
    }

    struct Asset: Sendable {
        let text: String
        let contentType: String
    }

    static func loadAssets(_ names: [String]) -> [String: Asset] {
        var assets: [String: Asset] = [:]
        for name in names {
            let base = (name as NSString).deletingPathExtension
            let ext = (name as NSString).pathExtension
            guard let url = Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "Resources"),
                let text = try? String(contentsOf: url, encoding: .utf8)
            else { continue }
            let type = ext == "js" ? "text/javascript; charset=utf-8" : "application/octet-stream"
            assets[name] = Asset(text: text, contentType: type)
        }
        return assets
    }
}
