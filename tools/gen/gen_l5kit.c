/*
 * gen_l5kit: dtype tables, labels and transforms of the L5Kit format,
 * copied from the real dataset's `.zarray`, `.zattrs` and meta.json.
 * Constant data only.
 */
#include "gen_l5kit.h"

static const fo_zarrw_field scenes_dtype[] = {
    {"frame_index_interval", "<i8", 1, {2, 0}},
    {"host", "<U16", 0, {0, 0}},
    {"start_time", "<i8", 0, {0, 0}},
    {"end_time", "<i8", 0, {0, 0}},
};

static const fo_zarrw_field frames_dtype[] = {
    {"timestamp", "<i8", 0, {0, 0}},
    {"agent_index_interval", "<i8", 1, {2, 0}},
    {"traffic_light_faces_index_interval", "<i8", 1, {2, 0}},
    {"ego_translation", "<f8", 1, {3, 0}},
    {"ego_rotation", "<f8", 2, {3, 3}},
};

static const fo_zarrw_field agents_dtype[] = {
    {"centroid", "<f8", 1, {2, 0}}, {"extent", "<f4", 1, {3, 0}},
    {"yaw", "<f4", 0, {0, 0}},      {"velocity", "<f4", 1, {2, 0}},
    {"track_id", "<u8", 0, {0, 0}}, {"label_probabilities", "<f4", 1, {FO_GEN_NLABELS, 0}},
};

static const fo_zarrw_field tl_faces_dtype[] = {
    {"face_id", "<U16", 0, {0, 0}},
    {"traffic_light_id", "<U16", 0, {0, 0}},
    {"traffic_light_face_status", "<f4", 1, {3, 0}},
};

#define NF(a) (sizeof(a) / sizeof((a)[0]))

const fo_gen_array_def fo_gen_arrays[FO_GEN_NARRAYS] = {
    [FO_GEN_SCENES] = {"scenes", scenes_dtype, NF(scenes_dtype), 10000, sizeof(fo_gen_scene_rec)},
    [FO_GEN_FRAMES] = {"frames", frames_dtype, NF(frames_dtype), 10000, sizeof(fo_gen_frame)},
    [FO_GEN_AGENTS] = {"agents", agents_dtype, NF(agents_dtype), 20000, sizeof(fo_gen_agent)},
    [FO_GEN_TL_FACES] = {"traffic_light_faces", tl_faces_dtype, NF(tl_faces_dtype), 10000,
                         sizeof(fo_gen_tl_face)},
};

const char *const fo_gen_labels[FO_GEN_NLABELS] = {
    "PERCEPTION_LABEL_NOT_SET",
    "PERCEPTION_LABEL_UNKNOWN",
    "PERCEPTION_LABEL_DONTCARE",
    "PERCEPTION_LABEL_CAR",
    "PERCEPTION_LABEL_VAN",
    "PERCEPTION_LABEL_TRAM",
    "PERCEPTION_LABEL_BUS",
    "PERCEPTION_LABEL_TRUCK",
    "PERCEPTION_LABEL_EMERGENCY_VEHICLE",
    "PERCEPTION_LABEL_OTHER_VEHICLE",
    "PERCEPTION_LABEL_BICYCLE",
    "PERCEPTION_LABEL_MOTORCYCLE",
    "PERCEPTION_LABEL_CYCLIST",
    "PERCEPTION_LABEL_MOTORCYCLIST",
    "PERCEPTION_LABEL_PEDESTRIAN",
    "PERCEPTION_LABEL_ANIMAL",
    "AVRESEARCH_LABEL_DONTCARE",
};

const char *const fo_gen_world_to_ecef[4][4] = {
    {"0.846617444", "0.323463078", "-0.422623402", "-2698767.44"},
    {"-0.532201938", "0.514559352", "-0.672301845", "-4293151.58"},
    {"-3.05311332e-16", "0.794103464", "0.6077826", "3855164.76"},
    {"0.0", "0.0", "0.0", "1.0"},
};

const char *const fo_gen_ecef_to_aerial[4][4] = {
    {"-0.717416495", "-1.14606296", "-1.62854453", "-574869.824"},
    {"1.80065798", "-1.08914046", "-0.0287877303", "296671.963"},
    {"0.0", "0.0", "0.0", "0.0"},
    {"0.0", "0.0", "0.0", "1.0"},
};
