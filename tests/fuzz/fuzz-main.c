/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer: run a fuzz target over every file given (the seed corpus, and every crash
 * ever found), so the suite replays them on each build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        uint8_t *buf;
        size_t n;
        FILE *f = fopen(path, "rb");

        if (!f)
                return -1;
        buf = malloc(1 << 20);
        if (!buf) {
                fclose(f);
                return -1;
        }
        n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        return 0;
}

int main(int argc, char *argv[]) {
        size_t n = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;
                struct dirent *de;

                if (stat(argv[i], &st) < 0)
                        return 1;
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        n++;
                        continue;
                }
                d = opendir(argv[i]);
                if (!d)
                        return 1;
                while ((de = readdir(d))) {
                        char path[4096];

                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (run_file(path) < 0) {
                                closedir(d);
                                return 1;
                        }
                        n++;
                }
                closedir(d);
        }
        printf("%zu inputs replayed\n", n);
        return n > 0 ? 0 : 1;
}
