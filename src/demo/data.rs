//! The demo's fixed lists: universities, employers with their positions,
//! and the names and majors students are made from.

use crate::entities::{positions::TalentCategory, users::Degree};

/// The password of every demo account that can sign in.
pub const DEMO_PASSWORD: &str = "warmcity-demo-2026";

pub(super) const UNIVERSITIES: [(&str, &str); 12] = [
    ("清华大学", "北京"),
    ("北京大学", "北京"),
    ("浙江大学", "杭州"),
    ("复旦大学", "上海"),
    ("上海交通大学", "上海"),
    ("南京大学", "南京"),
    ("中国科学技术大学", "合肥"),
    ("哈尔滨工业大学", "哈尔滨"),
    ("西安交通大学", "西安"),
    ("武汉大学", "武汉"),
    ("中山大学", "广州"),
    ("内蒙古大学", "呼和浩特"),
];

/// (name, industry, district, positions: (title, majors, degree, category, salary, benefits))
pub(super) type PositionSeed = (
    &'static str,
    &'static str,
    Degree,
    TalentCategory,
    i32,
    &'static [&'static str],
);
pub(super) const EMPLOYERS: [(&str, &str, &str, &[PositionSeed]); 8] = [
    (
        "暖城能源集团",
        "能源",
        "东胜区",
        &[
            (
                "煤制油工艺工程师",
                "化学工程",
                Degree::Master,
                TalentCategory::Shortage,
                15000,
                &["人才公寓", "安家补贴"],
            ),
            (
                "智慧矿山算法研究员",
                "计算机科学",
                Degree::Phd,
                TalentCategory::HighLevel,
                30000,
                &["安家补贴", "科研启动经费"],
            ),
        ],
    ),
    (
        "康巴什新材料科技有限公司",
        "新材料",
        "康巴什区",
        &[
            (
                "碳材料研发工程师",
                "材料科学",
                Degree::Master,
                TalentCategory::Shortage,
                14000,
                &["人才公寓"],
            ),
            (
                "首席科学家",
                "材料科学",
                Degree::Phd,
                TalentCategory::HighLevel,
                50000,
                &["安家补贴", "子女入学", "科研启动经费"],
            ),
        ],
    ),
    (
        "鄂托克氢能产业园",
        "氢能",
        "鄂托克旗",
        &[
            (
                "电解水制氢工程师",
                "电气工程",
                Degree::Master,
                TalentCategory::Shortage,
                16000,
                &["人才公寓", "交通补贴"],
            ),
            (
                "储能系统工程师",
                "电气工程",
                Degree::Bachelor,
                TalentCategory::Young,
                10000,
                &["人才公寓"],
            ),
        ],
    ),
    (
        "达拉特光伏发电有限公司",
        "新能源",
        "达拉特旗",
        &[(
            "光伏电站运维工程师",
            "电气工程",
            Degree::Bachelor,
            TalentCategory::Young,
            9000,
            &["人才公寓", "交通补贴"],
        )],
    ),
    (
        "准格尔煤化工有限公司",
        "煤化工",
        "准格尔旗",
        &[
            (
                "安全生产工程师",
                "安全工程",
                Degree::Bachelor,
                TalentCategory::Shortage,
                11000,
                &["人才公寓"],
            ),
            (
                "化工分析测试工程师",
                "化学",
                Degree::Master,
                TalentCategory::Young,
                12000,
                &["安家补贴"],
            ),
        ],
    ),
    (
        "伊金霍洛数字经济产业园",
        "数字经济",
        "伊金霍洛旗",
        &[
            (
                "大数据开发工程师",
                "计算机科学",
                Degree::Bachelor,
                TalentCategory::Young,
                12000,
                &["人才公寓", "餐补"],
            ),
            (
                "人工智能研究员",
                "计算机科学",
                Degree::Phd,
                TalentCategory::HighLevel,
                35000,
                &["安家补贴", "科研启动经费"],
            ),
        ],
    ),
    (
        "鄂尔多斯市中心医院",
        "医疗卫生",
        "康巴什区",
        &[(
            "临床医师",
            "临床医学",
            Degree::Master,
            TalentCategory::Shortage,
            13000,
            &["安家补贴", "人才公寓"],
        )],
    ),
    (
        "东胜现代物流有限公司",
        "现代物流",
        "东胜区",
        &[(
            "供应链管理培训生",
            "物流管理",
            Degree::Bachelor,
            TalentCategory::Other,
            8000,
            &["餐补"],
        )],
    ),
];

pub(super) const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
pub(super) const GIVEN: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "霞",
];
pub(super) const MAJORS: [&str; 8] = [
    "化学工程",
    "计算机科学",
    "材料科学",
    "电气工程",
    "安全工程",
    "临床医学",
    "物流管理",
    "化学",
];
