import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomTokens

/// Security headers for the HTML pages: a Content-Security-Policy that allows only the page's own inline
/// scripts (by SHA-256 hash), scripts and workers from this origin, and fetches to this origin; no framing
/// (`frame-ancestors 'none'` and `X-Frame-Options: DENY`), `nosniff`, and no referrer (the page URL can
/// carry a room name).
///
/// The hashes are those of the page's template, taken once when it is loaded (``scriptHashes(of:)``),
/// never of the page as rendered: a rendered page holds text from settings (a shop's `message` through a
/// raw placeholder, say), and a `<script>` in there must not be allowed by its own hash.
enum PageSecurity {
    /// A page response with the security headers.
    /// - Parameters:
    ///   - scriptHashes: the template's inline scripts (``scriptHashes(of:)``).
    ///   - imageOrigins: other origins images may load from (the shop's logo).
    static func page(status: HTTPResponse.Status, _ html: String, scriptHashes: [String], imageOrigins: [String] = []) -> Response {
        var headers = baseHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy(scriptHashes: scriptHashes, imageOrigins: imageOrigins)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let baseHeaders: HTTPFields = [
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
    ]

    static func contentSecurityPolicy(scriptHashes: [String], imageOrigins: [String] = []) -> String {
        let scripts = (["'self'"] + scriptHashes.map { "'sha256-\($0)'" }).joined(separator: " ")
        let images = (["'self'", "data:"] + imageOrigins).joined(separator: " ")
        return "default-src 'none'; script-src \(scripts); style-src 'self' 'unsafe-inline'; img-src \(images); "
            + "connect-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    }

    struct ScriptPlaceholder: Error, CustomStringConvertible {
        let script: String
        var description: String {
            "page template: a placeholder inside an inline <script> (\(script.prefix(60))…): the script's hash is fixed when the "
                + "template is loaded, so it would never run; pass data through a <script type=\"application/json\"> element"
        }
    }

    /// The base64 SHA-256 of each inline script a browser would run, from a page or a template as written.
    /// Data blocks (`type="application/json"` and other non-script types) are not run and need no hash.
    /// - Throws: ``ScriptPlaceholder`` when a script that would run holds a `{{placeholder}}`.
    static func scriptHashes(of template: String) throws(ScriptPlaceholder) -> [String] {
        var hashes: [String] = []
        for (attributes, body) in inlineScripts(in: template) where runs(attributes) {
            guard !body.contains("{{") else { throw ScriptPlaceholder(script: String(body)) }
            let hash = Data(Digest.sha256(Array(body.utf8))).base64EncodedString()
            if !hashes.contains(hash) { hashes.append(hash) }
        }
        return hashes
    }

    /// Whether a `<script>` with these attributes is run as JavaScript (no type, a JavaScript type, or a module).
    static func runs(_ attributes: Substring) -> Bool {
        guard let type = attribute("type", in: attributes)?.lowercased().trimmingCharacters(in: .whitespaces), !type.isEmpty else { return true }
        return type == "module" || type.hasSuffix("javascript") || type.hasSuffix("ecmascript")
    }

    private static func attribute(_ name: String, in attributes: Substring) -> String? {
        guard let found = attributes.range(of: name + "=", options: .caseInsensitive) else { return nil }
        var value = attributes[found.upperBound...]
        if let quote = value.first, quote == "\"" || quote == "'" {
            value = value.dropFirst()
            return String(value.prefix { $0 != quote })
        }
        return String(value.prefix { !$0.isWhitespace && $0 != ">" })
    }

    /// `scheme://host[:port]` of an absolute http(s) URL (nil for a path: 'self' covers it). Settings URLs
    /// are validated (no spaces, quotes or semicolons), so the origin is safe inside the policy.
    static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    /// The attributes and text of every `<script>` element without a `src` attribute, the text exactly as
    /// the browser hashes it.
    static func inlineScripts(in html: String) -> [(attributes: Substring, body: Substring)] {
        var scripts: [(Substring, Substring)] = []
        var rest = html[...]
        while let open = rest.range(of: "<script", options: .caseInsensitive) {
            guard let tagEnd = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let attributes = rest[open.upperBound..<tagEnd]
            let bodyStart = rest.index(after: tagEnd)
            guard let close = rest[bodyStart...].range(of: "</script", options: .caseInsensitive) else { break }
            if attributes.range(of: "src=", options: .caseInsensitive) == nil {
                scripts.append((attributes, rest[bodyStart..<close.lowerBound]))
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
