/* Calibration dataset loaders (spec §3): path resolution, the loader chain, strict index
 * files, lenient legacy files/directories and every error message. Test data is created in
 * temporary directories; images are tiny placeholder files (they are not decoded here). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "data/dataset.h"
#include "test_util.h"

static const char *const DEF = "Describe this image in detail.";

static char *put(const char *dir, const char *name, const char *content)
{
    return vs_test_write(dir, name, content, strlen(content));
}

static void touch(const char *dir, const char *name) { free(put(dir, name, "x")); }

static char *mkdir_in(const char *dir, const char *name)
{
    char *p = vs_path_join(dir, name);
    assert_non_null(p);
    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static char *real(const char *dir, const char *name)
{
    char *p = vs_path_join(dir, name);
    char *r = realpath(p, NULL);
    assert_non_null(r);
    free(p);
    return r;
}

/* Loads with stderr captured into *log (caller frees) so warnings can be checked. */
static enum vs_status load_log(const char *path, const char *def, struct vs_dataset **d,
                               char **log)
{
    char *dir = vs_test_tmpdir("data-log");
    char *logpath = vs_path_join(dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    enum vs_status st = vs_dataset_load(path, def, d);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len;
    assert_int_equal(vs_fs_read_file(logpath, log, &len), VS_OK);
    vs_fs_remove_tree(dir);
    free(logpath);
    free(dir);
    return st;
}

static struct vs_dataset *load_ok(const char *path, const char *def)
{
    struct vs_dataset *d = NULL;
    enum vs_status st = vs_dataset_load(path, def, &d);
    if (st != VS_OK)
        fail_msg("load %s: %s", path, vs_error_message());
    assert_non_null(d);
    return d;
}

static void expect_err(const char *path, const char *want)
{
    struct vs_dataset *d = (struct vs_dataset *)1;
    assert_int_equal(vs_dataset_load(path, DEF, &d), VS_ERR_DATASET);
    assert_null(d);
    assert_string_equal(vs_error_message(), want);
    assert_null(strchr(vs_error_message(), '\n'));
}

/* Writes an index file into a fresh dir and expects loading it to fail with the message
 * `fmt`, whose %s is the index file's path. */
static void expect_index_err(const char *name, const char *content, const char *fmt)
{
    char *dir = vs_test_tmpdir("data-idxerr");
    touch(dir, "a.jpg");
    char *idx = put(dir, name, content);
    char want[4096];
    snprintf(want, sizeof want, fmt, idx);
    expect_err(idx, want);
    free(idx);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void expect_sample(const struct vs_dataset *d, size_t i, const char *text, const char *image)
{
    assert_true(i < d->count);
    assert_string_equal(d->samples[i].text, text);
    if (image)
        assert_string_equal(d->samples[i].image, image);
    else
        assert_null(d->samples[i].image);
}

/* ---- §3.2 path resolution ---- */

static void test_resolve_absolute(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-abs");
    char *sub = mkdir_in(dir, "ds");
    char *want = realpath(sub, NULL), *out = NULL;
    assert_int_equal(vs_dataset_resolve_path(sub, "/nonexistent-lab", &out), VS_OK);
    assert_string_equal(out, want);
    free(out);
    char *missing = vs_path_join(dir, "nope");
    char msg[4096];
    snprintf(msg, sizeof msg, "Dataset path does not exist: %s", missing);
    assert_int_equal(vs_dataset_resolve_path(missing, dir, &out), VS_ERR_DATASET);
    assert_null(out);
    assert_string_equal(vs_error_message(), msg);
    free(missing);
    free(want);
    free(sub);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_resolve_relative(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-rel");
    char *cwd = mkdir_in(dir, "cwd"), *lab = mkdir_in(dir, "lab");
    char *a = mkdir_in(cwd, "both"), *b = mkdir_in(lab, "both"), *c = mkdir_in(lab, "labonly");
    char *old = getcwd(NULL, 0);
    assert_int_equal(chdir(cwd), 0);
    char *rcwd = getcwd(NULL, 0), *rlab = realpath(lab, NULL), *out = NULL;
    char want[4096];

    /* The current directory shadows lab_calib. */
    assert_int_equal(vs_dataset_resolve_path("both", lab, &out), VS_OK);
    snprintf(want, sizeof want, "%s/both", rcwd);
    assert_string_equal(out, want);
    free(out);
    /* A short name found only under lab_calib. */
    assert_int_equal(vs_dataset_resolve_path("labonly", lab, &out), VS_OK);
    snprintf(want, sizeof want, "%s/labonly", rlab);
    assert_string_equal(out, want);
    free(out);
    /* "./x/.." style names come back as real paths. */
    assert_int_equal(vs_dataset_resolve_path("./both/../both", NULL, &out), VS_OK);
    snprintf(want, sizeof want, "%s/both", rcwd);
    assert_string_equal(out, want);
    free(out);
    /* Missing everywhere: both candidates are named. */
    assert_int_equal(vs_dataset_resolve_path("nope", lab, &out), VS_ERR_DATASET);
    snprintf(want, sizeof want, "Dataset path does not exist: nope (tried %s/nope and %s/nope)",
             rcwd, lab);
    assert_string_equal(vs_error_message(), want);
    assert_int_equal(vs_dataset_resolve_path("nope", NULL, &out), VS_ERR_DATASET);
    snprintf(want, sizeof want, "Dataset path does not exist: nope (tried %s/nope)", rcwd);
    assert_string_equal(vs_error_message(), want);
    assert_int_equal(vs_dataset_resolve_path("", lab, &out), VS_ERR_DATASET);
    assert_string_equal(vs_error_message(), "Dataset path does not exist: (empty name)");

    assert_int_equal(chdir(old), 0);
    free(old);
    free(rcwd);
    free(rlab);
    free(a);
    free(b);
    free(c);
    free(cwd);
    free(lab);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- §3.3 chain ---- */

static void test_unsupported(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-unsup");
    char *txt = put(dir, "calib.txt", "hello\n");
    char want[4096];
    snprintf(want, sizeof want, "Unsupported dataset type: %s", txt);
    expect_err(txt, want);
    /* An image file alone is not a dataset either. */
    char *img = put(dir, "a.jpg", "x");
    snprintf(want, sizeof want, "Unsupported dataset type: %s", img);
    expect_err(img, want);
    char *missing = vs_path_join(dir, "missing.jsonl");
    snprintf(want, sizeof want, "Unsupported dataset type: %s", missing);
    expect_err(missing, want);
    free(missing);
    free(img);
    free(txt);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_both_index_files(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-both");
    touch(dir, "a.jpg");
    free(put(dir, "index.json", "{\"image\": \"a.jpg\"}"));
    free(put(dir, "index.jsonl", "{\"image\": \"a.jpg\"}\n"));
    char want[4096];
    snprintf(want, sizeof want, "Both index.json and index.jsonl exist in directory: %s", dir);
    expect_err(dir, want);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- strict index loader ---- */

static void test_index_jsonl_file(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-jsonl");
    char *media = mkdir_in(dir, "media");
    touch(media, "a.JPG");
    touch(media, "b.png");
    touch(media, "s.Wav");
    touch(media, "v.MP4");
    touch(dir, "unused.jpg"); /* not referenced: ignored by the strict loader */
    char *abs_b = real(media, "b.png");
    char content[8192];
    /* CRLF endings, blank lines, UTF-8 text, stripping, defaults, absolute paths. */
    snprintf(content, sizeof content,
             "{\"image\": \"media/a.JPG\", \"text\": \"  Décris l'image 描述 \"}\r\n"
             "\r\n"
             "   \r\n"
             "{\"image\": \"%s\"}\r\n"
             "{\"text\": \"only text\", \"audio\": \"media/s.Wav\", "
             "\"video\": \"./media/v.MP4\"}\r\n"
             "{\"text\": \"\", \"image\": null, \"audio\": null}\n"
             "{\"text\": null}\r"
             "{\"text\": false}\n"
             "{\"text\": 0, \"image\": \" media/b.png \"}",
             abs_b);
    char *idx = put(dir, "index.jsonl", content);
    struct vs_dataset *d = load_ok(idx, DEF);
    char *ra = real(media, "a.JPG"), *rs = real(media, "s.Wav"), *rv = real(media, "v.MP4");
    assert_int_equal(d->count, 7);
    expect_sample(d, 0, "Décris l'image 描述", ra);
    expect_sample(d, 1, DEF, abs_b);
    expect_sample(d, 2, "only text", NULL);
    assert_string_equal(d->samples[2].audio, rs);
    assert_string_equal(d->samples[2].video, rv);
    expect_sample(d, 3, DEF, NULL);
    assert_null(d->samples[3].audio);
    expect_sample(d, 4, DEF, NULL);
    expect_sample(d, 5, DEF, NULL);
    expect_sample(d, 6, DEF, abs_b);
    assert_null(d->samples[0].audio);
    assert_null(d->samples[0].video);
    size_t bad = 99;
    assert_false(vs_dataset_has_image_text(d, &bad));
    assert_int_equal(bad, 2);
    vs_dataset_free(d);
    free(ra);
    free(rs);
    free(rv);
    free(abs_b);
    free(idx);
    free(media);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_index_json_and_dir(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-json");
    touch(dir, "b.jpeg");
    touch(dir, "a.PNG");
    touch(dir, "c.jpg"); /* unreferenced: ignored */
    /* A list of objects, in file order, loaded through the directory (loader 2). */
    free(put(dir, "index.json",
             "[{\"image\": \"b.jpeg\", \"text\": \"first\"},\n {\"image\": \"a.PNG\"}]"));
    struct vs_dataset *d = load_ok(dir, "dflt");
    char *rb = real(dir, "b.jpeg"), *ra = real(dir, "a.PNG");
    assert_int_equal(d->count, 2);
    expect_sample(d, 0, "first", rb);
    expect_sample(d, 1, "dflt", ra);
    size_t bad = 99;
    assert_true(vs_dataset_has_image_text(d, &bad));
    assert_int_equal(bad, 99);
    vs_dataset_free(d);
    /* A single object. */
    char *idx = put(dir, "index.json", "{\"image\": \"a.PNG\", \"text\": \"one\"}");
    d = load_ok(idx, NULL);
    assert_int_equal(d->count, 1);
    expect_sample(d, 0, "one", ra);
    vs_dataset_free(d);
    /* Through the directory with index.jsonl and a NULL default text. */
    unlink(idx);
    free(put(dir, "index.jsonl", "{\"image\": \"a.PNG\"}\n"));
    d = load_ok(dir, NULL);
    assert_int_equal(d->count, 1);
    expect_sample(d, 0, "", ra);
    assert_false(vs_dataset_has_image_text(d, &bad));
    assert_int_equal(bad, 0);
    vs_dataset_free(d);
    free(idx);
    free(ra);
    free(rb);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_index_errors_json(void **state)
{
    (void)state;
    expect_index_err("index.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": \n",
                     "%s: Line 3: invalid JSON: unexpected token near end of file");
    expect_index_err("index.jsonl", "{\"text\": \"ok\"}\r\n[1, 2]\r\n",
                     "%s: Line 2: each JSONL line must be an object");
    expect_index_err("index.jsonl", "\"just a string\"\n",
                     "%s: Line 1: each JSONL line must be an object");
    expect_index_err("index.json", "[{\"text\": \"a\"}",
                     "Failed to parse JSON file: %s "
                     "(line 1, column 14: ']' expected near end of file)");
    expect_index_err("index.jsonl", "{\"text\": \"a\"}\n\xff\xfe\n",
                     "%s: Line 2: invalid JSON: unable to decode byte 0xff");
    expect_index_err("index.json", "42", "%s: index.json must be an object or a list of objects");
    expect_index_err("index.json", "[{\"text\": \"a\"}, \"b\"]",
                     "%s: index.json must be an object or a list of objects");
}

static void test_index_no_entries(void **state)
{
    (void)state;
    const char *cases[][2] = {{"index.jsonl", ""}, {"index.jsonl", "\n  \r\n\t\n"},
                              {"index.json", "[]"}};
    for (size_t i = 0; i < 3; i++) {
        char *dir = vs_test_tmpdir("data-empty");
        char *idx = put(dir, cases[i][0], cases[i][1]);
        char want[4096];
        snprintf(want, sizeof want, "No valid entries found in %s", idx);
        expect_err(idx, want);
        free(idx);
        vs_fs_remove_tree(dir);
        free(dir);
    }
}

static void test_index_field_errors(void **state)
{
    (void)state;
    const char *text_err = "%s entry 1: field 'text' must be a non-empty string";
    const char *ok = "{\"text\": \"fine\"}\n";
    const char *bad_texts[] = {"{\"text\": 5}", "{\"text\": true}", "{\"text\": \"  \\t \"}",
                               "{\"text\": [1]}", "{\"text\": {\"a\": 1}}"};
    char content[512];
    for (size_t i = 0; i < sizeof bad_texts / sizeof *bad_texts; i++) {
        snprintf(content, sizeof content, "%s%s\n", ok, bad_texts[i]);
        expect_index_err("index.jsonl", content, text_err);
    }
    /* Entry numbers count entries, not lines (blank lines are skipped). */
    expect_index_err("index.jsonl", "\n\n{\"text\": 1.5}\n",
                     "%s entry 0: field 'text' must be a non-empty string");
    expect_index_err("index.json", "[{\"text\": \"a\"}, {\"image\": 3}]",
                     "%s entry 1: field 'image' must be a non-empty string when provided");
    expect_index_err("index.json", "{\"image\": \"  \"}",
                     "%s entry 0: field 'image' must be a non-empty string when provided");
    expect_index_err("index.json", "{\"audio\": \"\"}",
                     "%s entry 0: field 'audio' must be a non-empty string when provided");
    expect_index_err("index.json", "{\"video\": false}",
                     "%s entry 0: field 'video' must be a non-empty string when provided");
    expect_index_err("index.json", "{\"image\": \"a.gif\"}",
                     "%s entry 0: image has unsupported suffix '.gif'");
    expect_index_err("index.json", "{\"image\": \"noext\"}",
                     "%s entry 0: image has unsupported suffix ''");
    expect_index_err("index.json", "{\"audio\": \"a.jpg\"}",
                     "%s entry 0: audio has unsupported suffix '.jpg'");
    expect_index_err("index.json", "{\"video\": \"a.avi\"}",
                     "%s entry 0: video has unsupported suffix '.avi'");
}

static void test_index_missing_media(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-miss");
    char *sub = mkdir_in(dir, "d.png"); /* a directory is not a file */
    const char *cases[][2] = {{"image", "b.jpg"}, {"image", "d.png"}, {"audio", "x.mp3"},
                              {"video", "x.mp4"}};
    for (size_t i = 0; i < 4; i++) {
        char content[256], want[4096];
        snprintf(content, sizeof content, "{\"text\": \"t\"}\n{\"%s\": \"%s\"}\n", cases[i][0],
                 cases[i][1]);
        char *idx = put(dir, "index.jsonl", content);
        snprintf(want, sizeof want, "%s entry 1: %s path does not exist or is not a file: %s/%s",
                 idx, cases[i][0], dir, cases[i][1]);
        expect_err(dir, want);
        free(idx);
    }
    free(sub);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- legacy text file ---- */

static void test_legacy_text_file(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-ltext");
    char *jl = put(dir, "mix_calib.jsonl",
                   "\"plain text\"\r\n"
                   "\n"
                   "{\"text\": \"  object text  \"}\r\n"
                   "{\"text\": \n"
                   "42\n"
                   "{\"text\": \"   \"}\n"
                   "{\"image\": \"a.jpg\"}\n"
                   "\"中文文本\"");
    struct vs_dataset *d = NULL;
    char *log = NULL;
    assert_int_equal(load_log(jl, DEF, &d, &log), VS_OK);
    assert_int_equal(d->count, 3);
    expect_sample(d, 0, "plain text", NULL);
    expect_sample(d, 1, "object text", NULL);
    expect_sample(d, 2, "中文文本", NULL);
    char want[4096];
    snprintf(want, sizeof want, "%s: line 4: invalid JSON", jl);
    assert_true(vs_test_contains(log, want));
    snprintf(want, sizeof want, "%s: line 5: not a non-empty string", jl);
    assert_true(vs_test_contains(log, want));
    snprintf(want, sizeof want, "%s: line 7: not a non-empty string", jl);
    assert_true(vs_test_contains(log, want));
    size_t bad = 9;
    assert_false(vs_dataset_has_image_text(d, &bad));
    assert_int_equal(bad, 0);
    free(log);
    vs_dataset_free(d);

    /* .json: a list, a single item, case-insensitive suffix. */
    char *js = put(dir, "texts.JSON", "[\"a\", {\"text\": \"b\"}, null, {\"text\": 3}]");
    assert_int_equal(load_log(js, DEF, &d, &log), VS_OK);
    assert_int_equal(d->count, 2);
    expect_sample(d, 0, "a", NULL);
    expect_sample(d, 1, "b", NULL);
    snprintf(want, sizeof want, "%s: entry 2: not a non-empty string", js);
    assert_true(vs_test_contains(log, want));
    snprintf(want, sizeof want, "%s: entry 3: not a non-empty string", js);
    assert_true(vs_test_contains(log, want));
    free(log);
    vs_dataset_free(d);
    free(put(dir, "texts.JSON", "{\"text\": \"single\"}"));
    d = load_ok(js, DEF);
    assert_int_equal(d->count, 1);
    expect_sample(d, 0, "single", NULL);
    vs_dataset_free(d);
    free(js);
    free(jl);

    /* Nothing valid (including unparsable JSON) is an error naming the file. */
    const char *bad_files[][2] = {{"e.jsonl", "\n\n"}, {"e.json", "[1, {\"t\": 1}]"},
                                  {"f.json", "{broken"},
                                  {"g.jsonl", "[\"x\"]\n{\"text\": \"\"}\n"}};
    for (size_t i = 0; i < 4; i++) {
        char *p = put(dir, bad_files[i][0], bad_files[i][1]);
        snprintf(want, sizeof want, "No valid text entries found in file: %s", p);
        expect_err(p, want);
        free(p);
    }
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- legacy directory ---- */

static void test_legacy_dir_images_only(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-limg");
    touch(dir, "b.JPEG");
    touch(dir, "a.jpg");
    touch(dir, "B.png");
    touch(dir, "_z.Jpg");
    touch(dir, "notes.txt");
    touch(dir, ".jpg"); /* no suffix in pathlib terms */
    char *sub = mkdir_in(dir, "sub");
    touch(sub, "0.jpg"); /* no recursion */
    char *subimg = mkdir_in(dir, "dir.png"); /* not a regular file */
    struct vs_dataset *d = load_ok(dir, DEF);
    const char *order[] = {"B.png", "_z.Jpg", "a.jpg", "b.JPEG"}; /* byte order */
    assert_int_equal(d->count, 4);
    for (size_t i = 0; i < 4; i++) {
        char *r = real(dir, order[i]);
        expect_sample(d, i, DEF, r);
        free(r);
    }
    assert_true(vs_dataset_has_image_text(d, NULL));
    vs_dataset_free(d);
    free(sub);
    free(subimg);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_legacy_dir_errors(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-lerr");
    touch(dir, "calib.jsonl");
    touch(dir, "readme.txt");
    char *sub = mkdir_in(dir, "sub");
    touch(sub, "a.jpg");
    char want[4096];
    snprintf(want, sizeof want, "No images files found in directory: %s", dir);
    expect_err(dir, want);
    touch(dir, "a.png");
    touch(dir, "other.JSON");
    snprintf(want, sizeof want, "Found multiple json/jsonl files in %s", dir);
    expect_err(dir, want);
    free(sub);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_legacy_dir_described(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-ldesc");
    char *outside = vs_test_tmpdir("data-outside");
    touch(outside, "o.jpg");
    touch(dir, "a.jpg");
    touch(dir, "b.PNG");
    touch(dir, "c.jpg");
    touch(dir, "d.jpeg");
    touch(dir, "e.jpg");
    char *abs_d = real(dir, "d.jpeg"), *abs_o = real(outside, "o.jpg");
    char content[8192];
    snprintf(content, sizeof content,
             "{\"image\": \"b.PNG\", \"text\": \" about b \"}\r\n"
             "\"a text-only sample\"\n"
             "{\"image\": \"some/where/a.jpg\", \"text\": \"  \"}\n"
             "{\"image\": \"%s\"}\n"
             "{\"image\": \"%s\", \"text\": \"outside\"}\n"
             "{\"image\": \"x.gif\", \"text\": \"bad suffix\"}\n"
             "{\"image\": \"missing.jpg\", \"text\": \"missing\"}\n"
             "{\"image\": 7}\n"
             "\n"
             "{\"text\": \"text object\"}\n"
             "{\"text\": 5}\n"
             "{bad json\n"
             "{\"image\": \"b.PNG\", \"text\": 12}\n",
             abs_d, abs_o);
    char *desc = put(dir, "captions.jsonl", content);
    struct vs_dataset *d = NULL;
    char *log = NULL;
    assert_int_equal(load_log(dir, DEF, &d, &log), VS_OK);
    char *ra = real(dir, "a.jpg"), *rb = real(dir, "b.PNG"), *rc = real(dir, "c.jpg"),
         *re = real(dir, "e.jpg");
    assert_int_equal(d->count, 8);
    expect_sample(d, 0, "about b", rb);
    expect_sample(d, 1, "a text-only sample", NULL);
    expect_sample(d, 2, DEF, ra);
    expect_sample(d, 3, DEF, abs_d);
    expect_sample(d, 4, "text object", NULL);
    expect_sample(d, 5, DEF, rb);
    expect_sample(d, 6, DEF, rc); /* unreferenced, appended sorted */
    expect_sample(d, 7, DEF, re);
    const char *warns[] = {"line 5: image ", "is not one of the images of",
                           "line 6: image x.gif has unsupported suffix '.gif', skipped",
                           "line 7: image ", "missing.jpg not found, skipped",
                           "line 8: field 'image' is not a non-empty string, skipped",
                           "line 11: neither an image entry nor a non-empty text, skipped",
                           "line 12: invalid JSON",
                           "Image c.jpg not found in JSON, using default text",
                           "Image e.jpg not found in JSON, using default text"};
    for (size_t i = 0; i < sizeof warns / sizeof *warns; i++)
        if (!vs_test_contains(log, warns[i]))
            fail_msg("warning '%s' missing from:\n%s", warns[i], log);
    assert_true(vs_test_contains(log, desc)); /* warnings name the description file */
    assert_true(vs_test_contains(log, "4 image entries for 5 images in")); /* only warns */
    assert_false(vs_test_contains(log, "Image a.jpg not found"));
    assert_false(vs_test_contains(log, "Image b.PNG not found"));
    free(log);
    vs_dataset_free(d);

    /* A description with no usable entry still yields every image (appended, sorted). */
    free(put(dir, "captions.jsonl", "{\"image\": \"zzz.jpg\"}\n"));
    d = load_ok(dir, DEF);
    assert_int_equal(d->count, 5);
    expect_sample(d, 0, DEF, ra);
    expect_sample(d, 4, DEF, re);
    vs_dataset_free(d);

    /* A .json list as description file. */
    unlink(desc);
    free(put(dir, "desc.json", "[{\"image\": \"e.jpg\", \"text\": \"E\"}, \"T\"]"));
    d = load_ok(dir, DEF);
    assert_int_equal(d->count, 6);
    expect_sample(d, 0, "E", re);
    expect_sample(d, 1, "T", NULL);
    expect_sample(d, 2, DEF, ra);
    expect_sample(d, 5, DEF, abs_d);
    vs_dataset_free(d);

    free(ra);
    free(rb);
    free(rc);
    free(re);
    free(abs_d);
    free(abs_o);
    free(desc);
    vs_fs_remove_tree(outside);
    free(outside);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* msModelSlim appends an image that is a symlink a second time; we compare real paths. */
static void test_legacy_dir_symlink_once(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("data-lsym");
    char *target = vs_test_tmpdir("data-lsym-target");
    touch(target, "t.jpg");
    char *tpath = vs_path_join(target, "t.jpg"), *lpath = vs_path_join(dir, "link.jpg");
    assert_int_equal(symlink(tpath, lpath), 0);
    touch(dir, "z.png");
    free(put(dir, "d.jsonl", "{\"image\": \"link.jpg\", \"text\": \"L\"}\n"));
    struct vs_dataset *d = load_ok(dir, DEF);
    char *rt = realpath(tpath, NULL), *rz = real(dir, "z.png");
    assert_int_equal(d->count, 2);
    expect_sample(d, 0, "L", rt);
    expect_sample(d, 1, DEF, rz);
    vs_dataset_free(d);
    free(rt);
    free(rz);
    free(tpath);
    free(lpath);
    vs_fs_remove_tree(target);
    free(target);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* The 2 COCO images shipped with msModelSlim's lab_calib (shared data of this project). */
static void test_real_calib_images(void **state)
{
    (void)state;
    const char *rel = "../shared/data/calibImages";
    if (!vs_fs_is_dir(rel))
        fail_msg("shared calibration directory %s is missing (the tests run from the repository "
                 "root; see ../shared/data/README.md)", rel);
    char *path = NULL;
    assert_int_equal(vs_dataset_resolve_path(rel, NULL, &path), VS_OK);
    assert_int_equal(path[0], '/');
    struct vs_dataset *d = load_ok(path, DEF);
    assert_int_equal(d->count, 2);
    char *a = real(path, "COCO_train2014_000000577589.jpg");
    char *b = real(path, "COCO_train2014_000000577592.jpg");
    expect_sample(d, 0, DEF, a);
    expect_sample(d, 1, DEF, b);
    assert_true(vs_dataset_has_image_text(d, NULL));
    vs_dataset_free(d);
    /* Loading through the relative name gives the same absolute paths. */
    d = load_ok(rel, DEF);
    assert_int_equal(d->count, 2);
    expect_sample(d, 0, DEF, a);
    expect_sample(d, 1, DEF, b);
    vs_dataset_free(d);
    /* The short name through a lab_calib directory. */
    char *out = NULL;
    assert_int_equal(vs_dataset_resolve_path("calibImages", "../shared/data", &out), VS_OK);
    assert_string_equal(out, path);
    free(out);
    free(a);
    free(b);
    free(path);
}

int main(void)
{
    vs_log_set_level(VS_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_absolute),
        cmocka_unit_test(test_resolve_relative),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_both_index_files),
        cmocka_unit_test(test_index_jsonl_file),
        cmocka_unit_test(test_index_json_and_dir),
        cmocka_unit_test(test_index_errors_json),
        cmocka_unit_test(test_index_no_entries),
        cmocka_unit_test(test_index_field_errors),
        cmocka_unit_test(test_index_missing_media),
        cmocka_unit_test(test_legacy_text_file),
        cmocka_unit_test(test_legacy_dir_images_only),
        cmocka_unit_test(test_legacy_dir_errors),
        cmocka_unit_test(test_legacy_dir_described),
        cmocka_unit_test(test_legacy_dir_symlink_once),
        cmocka_unit_test(test_real_calib_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
