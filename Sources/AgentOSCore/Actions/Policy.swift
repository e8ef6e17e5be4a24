/// The permissions of the seed plus what the catalog needs.
public enum Permission: String, CaseIterable, Sendable, Codable, Comparable {
    case admin = "ADMIN"
    case jobCancel = "JOB_CANCEL"
    case jobManage = "JOB_MANAGE"
    case queueManage = "QUEUE_MANAGE"
    case queueClear = "QUEUE_CLEAR"
    case workerRestart = "WORKER_RESTART"
    case workerManage = "WORKER_MANAGE"
    case managerControl = "MANAGER_CONTROL"
    case systemOperate = "SYSTEM_OPERATE"
    case systemBackup = "SYSTEM_BACKUP"
    case databaseAdmin = "DATABASE_ADMIN"
    case configUpdate = "CONFIG_UPDATE"
    case logExport = "LOG_EXPORT"
    case logManage = "LOG_MANAGE"
    case analyticsView = "ANALYTICS_VIEW"
    case auditView = "AUDIT_VIEW"

    public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }
}

/// The seed's five roles.
public enum Role: String, CaseIterable, Sendable, Codable {
    case admin, `operator`, supervisor, user, readonly
}

/// Who an action runs as, after identity and permissions were resolved.
public struct Grant: Sendable, Equatable {
    public var role: Role
    public var extra: Set<Permission>

    public init(role: Role, extra: Set<Permission> = []) {
        self.role = role
        self.extra = extra
    }
}

/// The decision of the RBAC policy for one (grant, action).
public enum PolicyDecision: Sendable, Equatable {
    case allow
    /// Allowed only on the operator's own jobs (role `user`).
    case allowOwn
    case deny(String)

    public var allowed: Bool { if case .deny = self { return false } else { return true } }
}

/// Default deny; the role × action matrix is data.
public enum Policy {
    /// Permissions every action of which a role may run.
    public static func permissions(of role: Role) -> Set<Permission> {
        switch role {
        case .admin: return Set(Permission.allCases)
        case .operator:
            return [.jobCancel, .jobManage, .queueManage, .workerRestart, .workerManage, .managerControl, .logExport, .analyticsView]
        case .supervisor, .user, .readonly: return []
        }
    }

    /// Single actions a role may run beyond its permissions (supervisor and user: cancel and retry).
    public static func actions(of role: Role) -> Set<ActionName> {
        switch role {
        case .supervisor, .user: return [.jobCancel, .jobRetry]
        default: return []
        }
    }

    public static func decide(_ grant: Grant, _ spec: ActionSpec?) -> PolicyDecision {
        guard let spec else { return .deny("unknown action") }
        if grant.role == .admin || grant.extra.contains(.admin) { return .allow }
        if permissions(of: grant.role).contains(spec.permission) || grant.extra.contains(spec.permission) {
            // ADMIN-only actions are never granted by a narrower permission.
            return .allow
        }
        if actions(of: grant.role).contains(spec.id) { return grant.role == .user ? .allowOwn : .allow }
        return .deny("role \(grant.role.rawValue) lacks \(spec.permission.rawValue)")
    }

    /// The grant an actor acts with: its own (unknown users are readonly), or with `--as` the
    /// other user's, which only admins may take.
    public static func grant(for actor: Actor, from permissions: PermissionSource) throws(ActionFailure) -> Grant {
        let own = try lookup(actor.user, permissions)
        guard let other = actor.actingAs, other != actor.user else { return own }
        guard own.role == .admin else { throw .denied("--as is for admins only (\(actor.user) is \(own.role.rawValue))") }
        return try lookup(other, permissions)
    }

    static func lookup(_ user: String, _ permissions: PermissionSource) throws(ActionFailure) -> Grant {
        let found: Result<Grant?, Error> = Result { try permissions.grant(for: user) }
        switch found {
        case .success(let g): return g ?? Grant(role: .readonly)
        case .failure(let error): throw .unavailable("permissions: \(error)")
        }
    }

    /// Decides by name: an unknown action or role is denied.
    public static func decide(role: String, extra: [String] = [], action: String) -> PolicyDecision {
        guard let r = Role(rawValue: role) else { return .deny("unknown role '\(role.prefix(40))'") }
        return decide(Grant(role: r, extra: Set(extra.compactMap(Permission.init(rawValue:)))), ActionCatalog.spec(action))
    }
}
