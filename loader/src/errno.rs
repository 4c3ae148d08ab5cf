//! errno names and meanings for error messages: users search the web for
//! `EACCES`, not for "os error 13", so every loader error names both.

/// The symbolic name of `errno` (`EPERM`), or `errno N` when unknown.
pub fn name(errno: i32) -> String {
    let s = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        // The kernel-internal ENOTSUPP leaks out of some bpf() paths.
        524 => "ENOTSUPP",
        _ => return format!("errno {errno}"),
    };
    s.to_string()
}

/// `EPERM (Operation not permitted)`.
pub fn describe(errno: i32) -> String {
    let meaning = if errno == 524 {
        "Operation is not supported".to_string()
    } else {
        let full = std::io::Error::from_raw_os_error(errno).to_string();
        // std appends " (os error N)"; the name already says which errno it is.
        match full.rfind(" (os error") {
            Some(i) => full[..i].to_string(),
            None => full,
        }
    };
    format!("{} ({meaning})", name(errno))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_meanings() {
        assert_eq!(
            super::describe(libc::EPERM),
            "EPERM (Operation not permitted)"
        );
        assert_eq!(super::describe(libc::EACCES), "EACCES (Permission denied)");
        assert_eq!(super::name(9999), "errno 9999");
        assert_eq!(
            super::describe(524),
            "ENOTSUPP (Operation is not supported)"
        );
    }
}
