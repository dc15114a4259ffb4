/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_cgroup_read(), sa_cgroup_unit(): the service a process belongs to, as systemd names it. */
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "smapsaudit.h"
#include "sources.h"
#include "tap.h"

static void unit_of(const char *path, const char *want) {
        _cleanup_free_ char *unit = NULL;

        is_i64(sa_cgroup_unit(path, &unit), 0, "%s parses", path);
        is_str(unit, want, "unit of %s", path);
}

static void user_unit_of(const char *path, const char *want) {
        _cleanup_free_ char *unit = NULL;

        is_i64(sa_cgroup_user_unit(path, &unit), 0, "%s parses", path);
        is_str(unit, want, "user unit of %s", path);
}

static void test_user_unit(void) {
        user_unit_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service");
        user_unit_of("/user.slice/user-1000.slice/user@1000.service/app.slice/app-bar@1.service/sub", "app-bar@1.service");
        /* the user manager itself, a session and a system service have no user unit */
        user_unit_of("/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope");
        user_unit_of("/user.slice/user-1000.slice/user@1000.service", NULL);
        user_unit_of("/user.slice/user-1000.slice/session-3.scope", NULL);
        user_unit_of("/system.slice/postgresql.service", NULL);
}

static void test_unit(void) {
        unit_of("/system.slice/postgresql.service", "postgresql.service");
        unit_of("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service");
        /* a service's own sub-cgroups (Delegate=) are still that service */
        unit_of("/system.slice/docker.service/payload", "docker.service");
        /* a user's services are below the user manager, a system unit */
        unit_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service");
        unit_of("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
        unit_of("/init.scope", "init.scope");
        unit_of("/system.slice/_cpu.service", "cpu.service");
        /* not a unit: the root, a slice alone, a cgroup made by hand */
        unit_of("/", NULL);
        unit_of("/system.slice", NULL);
        unit_of("/kubepods/burstable/pod1234/abcd", NULL);
}

static void write_cgroup(const char *root, int pid, const char *text) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%d", root, pid);
        (void) mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%d/cgroup", root, pid);
        f = fopen(path, "we");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void test_read(void) {
        char root[] = "/tmp/test-cgroup-XXXXXX";
        struct smapsaudit_ctx *ctx = NULL;
        char *cgroup = NULL, *unit = NULL;

        ok(mkdtemp(root), "a proc root");
        ok(smapsaudit_ctx_new(&ctx) >= 0 && smapsaudit_ctx_set_proc_root(ctx, root) >= 0, "a context on it");
        write_cgroup(root, 10, "0::/system.slice/nginx.service\n");
        write_cgroup(root, 11, "12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n"
                               "0::/system.slice/cron.service\n");
        write_cgroup(root, 12, "5:memory:/lxc/a\n3:cpu:/lxc/a\n");
        write_cgroup(root, 13, "0::/\n");
        /* hybrid, as on this project's CI machine: systemd's v1 hierarchy says "/", the unified one the unit */
        write_cgroup(root, 15, "9:name=systemd:/\n4:memory:/x\n0::/sa-test.service\n");
        /* legacy: the unified line says "/", systemd's own hierarchy names the unit */
        write_cgroup(root, 16, "1:name=systemd:/system.slice/atd.service\n0::/\n");

        is_i64(sa_cgroup_read(ctx, 10, &cgroup, &unit), 0, "cgroup v2");
        is_str(cgroup, "/system.slice/nginx.service", "v2 path");
        is_str(unit, "nginx.service", "v2 unit");
        free(cgroup);
        free(unit);
        is_i64(sa_cgroup_read(ctx, 11, &cgroup, &unit), 0, "hybrid hierarchy");
        is_str(unit, "cron.service", "name=systemd's unit");
        free(cgroup);
        free(unit);
        is_i64(sa_cgroup_read(ctx, 12, &cgroup, &unit), -ENODATA, "cgroup v1 without systemd: nothing");
        ok(!cgroup && !unit, "and nothing returned");
        is_i64(sa_cgroup_read(ctx, 13, &cgroup, &unit), 0, "the root cgroup");
        is_str(cgroup, "/", "root path");
        ok(!unit, "no unit");
        free(cgroup);
        is_i64(sa_cgroup_read(ctx, 14, &cgroup, &unit), -ENOENT, "no such process");
        is_i64(sa_cgroup_read(ctx, 15, &cgroup, &unit), 0, "hybrid, systemd's v1 hierarchy at its root");
        is_str(unit, "sa-test.service", "the unified hierarchy's unit, as systemd tracks it there");
        free(cgroup);
        free(unit);
        is_i64(sa_cgroup_read(ctx, 16, &cgroup, &unit), 0, "legacy");
        is_str(unit, "atd.service", "name=systemd's unit when the unified line is the root");
        free(cgroup);
        free(unit);

        smapsaudit_ctx_unref(ctx);
        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                ok(system(cmd) == 0, "proc root removed");
        }
}

int main(void) {
        test_unit();
        test_user_unit();
        test_read();
        return tap_done();
}
