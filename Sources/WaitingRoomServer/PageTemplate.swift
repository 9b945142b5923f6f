import WaitingRoomCore

/// A page template with `{{name}}` placeholders, parsed once.
///
/// - `{{name}}`: the value, HTML-escaped.
/// - `{{name?hidden}}`: ` hidden` when the value is empty (the element stays in the page for the script).
/// - `{{!name}}`: the value as it is (markup the renderer built, or JSON already made safe for a script).
///
/// Every placeholder must be one the renderer knows: an unknown name is an error at start-up, not a
/// blank on the page.
struct PageTemplate: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case escaped(String)
        case hidden(String)
        case raw(String)
    }

    struct UnknownPlaceholder: Error, CustomStringConvertible {
        let name: String
        var description: String { "page template: unknown placeholder {{\(name)}}" }
    }

    let segments: [Segment]
    /// The hashes of the template's own inline scripts, for the page's Content-Security-Policy: taken here,
    /// once, from the template as written — never from a rendered page, whose values come from settings.
    let scriptHashes: [String]

    /// - Parameter known: whether a placeholder name (without `!` or `?hidden`) is one the renderer fills.
    /// - Throws: ``UnknownPlaceholder``, or ``PageSecurity/ScriptPlaceholder`` for a placeholder inside a
    ///   script that would run (its hash could not be known here).
    init(_ text: String, known: (String) -> Bool) throws {
        scriptHashes = try PageSecurity.scriptHashes(of: text)
        var segments: [Segment] = []
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            segments.append(.literal(String(rest[..<open.lowerBound])))
            let name = String(rest[open.upperBound..<close.lowerBound])
            let segment: Segment
            if name.hasPrefix("!") {
                segment = .raw(String(name.dropFirst()))
            } else if name.hasSuffix("?hidden") {
                segment = .hidden(String(name.dropLast(7)))
            } else {
                segment = .escaped(name)
            }
            switch segment {
            case .raw(let key), .hidden(let key), .escaped(let key): guard known(key) else { throw UnknownPlaceholder(name: name) }
            case .literal: break
            }
            segments.append(segment)
            rest = rest[close.upperBound...]
        }
        segments.append(.literal(String(rest)))
        self.segments = segments
    }

    private init(segments: [Segment], scriptHashes: [String]) {
        self.segments = segments
        self.scriptHashes = scriptHashes
    }

    /// This template with the placeholders in `values` filled in and the literals between them joined: what
    /// is the same on every page of a room and language is rendered once, and a request renders only the
    /// few placeholders left (``render(_:)``). The script hashes stay those of the template as written.
    func filling(_ values: [String: String]) -> PageTemplate {
        var filled: [Segment] = []
        func append(_ text: String) {
            guard !text.isEmpty else { return }
            if case .literal(let previous) = filled.last {
                filled[filled.count - 1] = .literal(previous + text)
            } else {
                filled.append(.literal(text))
            }
        }
        for segment in segments {
            switch segment {
            case .literal(let text): append(text)
            case .escaped(let key): if let value = values[key] { append(HTML.escape(value)) } else { filled.append(segment) }
            case .hidden(let key): if let value = values[key] { append(value.isEmpty ? " hidden" : "") } else { filled.append(segment) }
            case .raw(let key): if let value = values[key] { append(value) } else { filled.append(segment) }
            }
        }
        return PageTemplate(segments: filled, scriptHashes: scriptHashes)
    }

    /// The placeholder names still open (not filled by ``filling(_:)``).
    var openPlaceholders: Set<String> {
        Set(segments.compactMap { segment -> String? in
            switch segment {
            case .literal: nil
            case .escaped(let key), .hidden(let key), .raw(let key): key
            }
        })
    }

    func render(_ values: [String: String]) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let text): out += text
            case .escaped(let key): out += HTML.escape(values[key] ?? "")
            case .hidden(let key): if (values[key] ?? "").isEmpty { out += " hidden" }
            case .raw(let key): out += values[key] ?? ""
            }
        }
        return out
    }
}
