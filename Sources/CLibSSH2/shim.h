// libssh2's function-like macros are invisible to Swift; these inline wrappers give the
// `_ex` functions the shapes rosterdrop calls. Lengths are UTF-8 byte counts.
#ifndef ROSTERDROP_CLIBSSH2_SHIM_H
#define ROSTERDROP_CLIBSSH2_SHIM_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <string.h>

static inline LIBSSH2_SESSION *rd_session_init(void) {
    return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

static inline int rd_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, description, "");
}

// `publicKey` may be NULL: libssh2 then derives it from the private key.
static inline int rd_userauth_publickey_fromfile(LIBSSH2_SESSION *session, const char *user, const char *publicKey,
                                                 const char *privateKey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(session, user, (unsigned int)strlen(user), publicKey, privateKey,
                                                  passphrase);
}

static inline LIBSSH2_SFTP_HANDLE *rd_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path), flags, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline LIBSSH2_SFTP_HANDLE *rd_sftp_opendir(LIBSSH2_SFTP *sftp, const char *path) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path), 0, 0, LIBSSH2_SFTP_OPENDIR);
}

static inline int rd_sftp_readdir(LIBSSH2_SFTP_HANDLE *handle, char *buffer, size_t length,
                                  LIBSSH2_SFTP_ATTRIBUTES *attributes) {
    return libssh2_sftp_readdir_ex(handle, buffer, length, NULL, 0, attributes);
}

static inline int rd_sftp_close(LIBSSH2_SFTP_HANDLE *handle) {
    return libssh2_sftp_close_handle(handle);
}

static inline int rd_sftp_stat(LIBSSH2_SFTP *sftp, const char *path, LIBSSH2_SFTP_ATTRIBUTES *attributes) {
    return libssh2_sftp_stat_ex(sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_STAT, attributes);
}

static inline int rd_sftp_rename(LIBSSH2_SFTP *sftp, const char *source, const char *destination) {
    return libssh2_sftp_rename_ex(sftp, source, (unsigned int)strlen(source), destination,
                                  (unsigned int)strlen(destination),
                                  LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE);
}

static inline int rd_sftp_unlink(LIBSSH2_SFTP *sftp, const char *path) {
    return libssh2_sftp_unlink_ex(sftp, path, (unsigned int)strlen(path));
}

static inline int rd_sftp_mkdir(LIBSSH2_SFTP *sftp, const char *path, long mode) {
    return libssh2_sftp_mkdir_ex(sftp, path, (unsigned int)strlen(path), mode);
}

static inline int rd_is_regular(const LIBSSH2_SFTP_ATTRIBUTES *attributes) {
    return (attributes->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0
        && LIBSSH2_SFTP_S_ISREG(attributes->permissions);
}

#endif
